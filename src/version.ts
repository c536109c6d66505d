/** weft's version, as `weft version` prints it and agents publish it. */
export const VERSION = '0.1.0';
