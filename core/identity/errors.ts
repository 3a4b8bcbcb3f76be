// The identity modules return expected refusals (a bad token, a certificate that does
// not verify, a wrong proof) as values. This error is for the unexpected: our own
// CA or key material is unusable, or a caller passed an invalid argument.

import { HerdError } from "../errors.ts";

export class IdentityError extends HerdError {}
