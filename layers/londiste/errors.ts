// Londiste's error class lives with the others in layers/errors (the mapper and the CLI's exit
// policy need every domain); callers in layers/londiste import it from here.
export { LondisteError, type LondisteErrorKind } from '../errors/domains.ts';
