// A mistake in what the user gave us (recipe, profile, environment): printed as a message, never with a stack.
export class UserError extends Error {}
