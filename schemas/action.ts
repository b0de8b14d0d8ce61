import { z } from 'zod';

// Placeholder until the action kinds land: every action names its kind.
export const action = z.object({ kind: z.string() }).loose();
export type Action = z.infer<typeof action>;
