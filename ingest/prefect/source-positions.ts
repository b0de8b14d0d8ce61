import type { Sql } from '../../platform/ports/database.ts';

/*
 * Owner of the prefect_event_sources table: where each Prefect event source resumes, and which
 * process holds it. A process subscribes only while it holds the connection's lease; it renews
 * the lease as it goes and writes the position only while it still holds it.
 */

export interface SourcePosition {
  /** Every event that occurred before this time was appended (undefined: never ran). */
  readonly resumeFrom: Date | undefined;
  /** Ids of the events appended that occurred at or after `resumeFrom`. */
  readonly seenIds: readonly string[];
}

export interface SourcePositions {
  /** Takes or renews the lease for `leaseMs`; the stored position when held, undefined when another process holds it. */
  acquire(connection: string, owner: string, leaseMs: number): Promise<SourcePosition | undefined>;
  /** Stores the position and renews the lease; false when the lease was lost to another process. */
  save(connection: string, owner: string, position: SourcePosition, leaseMs: number): Promise<boolean>;
  /** Gives the lease up (on stop), so another process can take over at once. */
  release(connection: string, owner: string): Promise<void>;
}

interface PositionRow {
  resume_from: Date | string | null;
  seen_ids: unknown;
}

export function createSourcePositions(db: Sql): SourcePositions {
  return {
    async acquire(connection, owner, leaseMs) {
      const rows = await db.query<PositionRow>(
        `INSERT INTO prefect_event_sources (connection, lease_owner, lease_until)
         VALUES ($1, $2, now() + make_interval(secs => $3::double precision / 1000))
         ON CONFLICT (connection) DO UPDATE
           SET lease_owner = EXCLUDED.lease_owner, lease_until = EXCLUDED.lease_until
           WHERE prefect_event_sources.lease_until < now() OR prefect_event_sources.lease_owner = EXCLUDED.lease_owner
         RETURNING resume_from, seen_ids`,
        [connection, owner, leaseMs],
      );
      const row = rows[0];
      if (!row) return undefined;
      return {
        resumeFrom: row.resume_from === null ? undefined : new Date(row.resume_from),
        seenIds: Array.isArray(row.seen_ids) ? row.seen_ids.filter((id): id is string => typeof id === 'string') : [],
      };
    },
    async save(connection, owner, position, leaseMs) {
      const rows = await db.query(
        `UPDATE prefect_event_sources
            SET resume_from = $3, seen_ids = $4::jsonb, lease_until = now() + make_interval(secs => $5::double precision / 1000), updated_at = now()
          WHERE connection = $1 AND lease_owner = $2
          RETURNING 1`,
        [connection, owner, position.resumeFrom?.toISOString() ?? null, JSON.stringify(position.seenIds), leaseMs],
      );
      return rows.length > 0;
    },
    async release(connection, owner) {
      await db.query(`UPDATE prefect_event_sources SET lease_until = now() - interval '1 second' WHERE connection = $1 AND lease_owner = $2`, [connection, owner]);
    },
  };
}
