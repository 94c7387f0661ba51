/** Clip classification metrics from true and predicted class indices. */
export interface ClassificationReport {
  accuracy: number;
  /** confusion[true][predicted] */
  confusion: number[][];
  perClass: { label: string; precision: number; recall: number; f1: number; support: number }[];
}

export function classificationReport(
  classes: readonly string[],
  truth: readonly number[],
  predicted: readonly number[],
): ClassificationReport {
  const k = classes.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  truth.forEach((t, i) => confusion[t][predicted[i]]++);
  const correct = confusion.reduce((s, row, i) => s + row[i], 0);
  const perClass = classes.map((label, c) => {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predictedAs = confusion.reduce((s, row) => s + row[c], 0);
    const precision = predictedAs === 0 ? 0 : tp / predictedAs;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { label, precision, recall, f1, support };
  });
  return { accuracy: truth.length === 0 ? 0 : correct / truth.length, confusion, perClass };
}

export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, std };
}
