/**
 * The AWS error main.ts must recognise, apart from handlers/aws/client.ts so that
 * recognising it does not load the AWS SDK (which the bridge loads only
 * with -s, -l, -m or -M).
 */

/**
 * An AWS call refused for lack of permission (`permission`, e.g.
 * `ssm:GetParametersByPath`), or with credentials AWS does not accept.
 * Restarting cannot fix it: main.ts exits 77 (EX_NOPERM) on it.
 */
export class AwsPermissionError extends Error {
  override name = "AwsPermissionError";
  /** The IAM action to check, e.g. `ssm:GetParametersByPath`. */
  readonly permission: string;

  constructor(message: string, permission: string, options?: ErrorOptions) {
    super(message, options);
    this.permission = permission;
  }
}
