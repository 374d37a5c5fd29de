/**
 * English issue messages for the zod/mini schemas. Full zod registers its English locale
 * when its first schema is built; zod/mini registers none, and without one every built-in
 * issue reads "Invalid input". Imported for its effect by schema-atoms.ts, which every
 * schema on a Lambda path reaches (the bundle test checks a built handler's wording).
 */
import { en } from 'zod/locales';
import * as z from 'zod/mini';

z.config(en());
