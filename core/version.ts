/** herd's version, shown by `herd version` and in `herd status`. */
export const VERSION = "0.1.0";
