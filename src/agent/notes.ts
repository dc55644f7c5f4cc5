// What the agent wants whoever reads its status to know now, beside the counters: a fleet profile
// URL that cannot be fetched, a profile it served that was refused. One line per subject, replaced
// when the subject's state changes and removed when there is nothing to say.
const current = new Map<string, string>();

export const notes = {
  /** Sets (or, with undefined, clears) the line about `subject`. */
  set(subject: string, line: string | undefined): void {
    if (line === undefined) current.delete(subject);
    else current.set(subject, line);
  },
  /** Every line, in the order the subjects first spoke. */
  list(): string[] {
    return [...current.values()];
  },
};
