/** A problem in a request, answered with `status` and a JSON body `{ error, message, ...details }`. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { details?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = options.details ?? {};
    this.headers = options.headers ?? {};
  }

  toBody(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.details };
  }
}

/** One bad item in a batch: which one, where in it, and what is wrong. */
export interface ItemProblem {
  readonly index: number;
  readonly path: string;
  readonly message: string;
}

/** Most item problems listed in one response; the rest are counted. */
const maxListedProblems = 100;

export function invalidItems(problems: readonly ItemProblem[], total: number, what = 'events'): HttpError {
  const badItems = new Set(problems.map((problem) => problem.index)).size;
  return new HttpError(
    422,
    `invalid_${what}`,
    `${badItems} of ${total} ${what} ${badItems === 1 ? 'is' : 'are'} invalid; nothing was accepted. First: ${describe(problems[0])}`,
    {
      details: {
        errors: problems.slice(0, maxListedProblems),
        ...(problems.length > maxListedProblems ? { errors_not_listed: problems.length - maxListedProblems } : {}),
      },
    },
  );
}

function describe(problem: ItemProblem | undefined): string {
  if (!problem) return '';
  return `[${problem.index}]${problem.path ? `.${problem.path}` : ''}: ${problem.message}`;
}
