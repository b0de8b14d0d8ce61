import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../test/support/seeded-random.ts';
import { automation, event } from '../../test/triggers/helpers.ts';
import { buildCatalogSnapshot } from '../automation-catalog.ts';
import { explain } from '../explain.ts';
import { compileTriggerProgram } from '../trigger-program.ts';
import { eventGlobProblem } from '../../schemas/glob-syntax.ts';
import { whereProblems } from '../../schemas/where-syntax.ts';
import { compileGlobList } from './event-name-glob.ts';
import { buildMatchIndex } from './match-index.ts';
import { compileWhere, whereData } from './where-clause.ts';

const program = (json: Record<string, unknown>, name = 'test') => compileTriggerProgram(automation({ ...json, name }), 1n, { allowedLatenessMs: 0 });

describe('event-name globs', () => {
  it('"*" spans dots, "!" excludes, lists OR', () => {
    const g = compileGlobList(['airflow.*', '!airflow.dag_run.running']);
    assert.equal(g.test('airflow.dag_run.success'), true);
    assert.equal(g.test('airflow.dag_run.running'), false);
    assert.equal(g.test('prefect.flow_run.completed'), false);
    assert.equal(compileGlobList(['*.failed']).test('a.b.c.failed'), true);
    assert.equal(compileGlobList(['!x.*']).test('y.z'), true);
    assert.equal(compileGlobList(['a.*.c']).test('a.b.c'), true);
    assert.equal(compileGlobList(['a.*.c']).test('a.b.d'), false);
  });
  it('rejects bad globs', () => {
    assert.ok(eventGlobProblem('a..b'));
    assert.ok(eventGlobProblem('a b'));
    assert.ok(eventGlobProblem('!'));
    assert.equal(eventGlobProblem('airflow.dag_run.*'), null);
  });
});

describe('matching', () => {
  it('match: label globs, lists OR-ed, negation, missing labels', () => {
    const p = program({ trigger: { type: 'event', expect: ['dbt.*'], match: { id: 'dbt.model.*', env: ['prod', 'staging'], team: '!ops' } } });
    const data = () => whereData(event({ event: 'x' }));
    assert.ok(p.route(event({ event: 'dbt.run.ok', resource: { id: 'dbt.model.sales', env: 'prod' } }), data));
    assert.equal(p.route(event({ event: 'dbt.run.ok', resource: { id: 'dbt.model.sales', env: 'dev' } }), data), null);
    assert.equal(p.route(event({ event: 'dbt.run.ok', resource: { id: 'dbt.model.sales', env: 'prod', team: 'ops' } }), data), null);
    assert.equal(p.route(event({ event: 'dbt.run.ok', resource: { id: 'dbt.model.sales' } }), data), null);
  });
  it('match_related by role and labels; every entry must be satisfied', () => {
    const p = program({ trigger: { type: 'event', expect: ['*'], match_related: [{ role: 'pool', id: 'airflow.pool.*' }, { role: 'owner', team: 'data' }] } });
    const e = (related: { id: string; role: string; [k: string]: string }[]) => event({ event: 'a.b', related });
    const data = () => whereData(e([]));
    assert.ok(p.route(e([{ id: 'airflow.pool.default', role: 'pool' }, { id: 'u1', role: 'owner', team: 'data' }]), data));
    assert.equal(p.route(e([{ id: 'airflow.pool.default', role: 'pool' }]), data), null);
  });
  it('where: JSON Logic over the whole event', () => {
    const p = program({ trigger: { type: 'event', expect: ['*'], where: { and: [{ '>': [{ var: 'payload.rows' }, 100] }, { '==': [{ var: 'resource.env' }, 'prod'] }] } } });
    const ok = event({ event: 'a', resource: { id: 'r', env: 'prod' }, payload: { rows: 500 } });
    const no = event({ event: 'a', resource: { id: 'r', env: 'prod' }, payload: { rows: 5 } });
    assert.ok(p.route(ok, () => whereData(ok)));
    assert.equal(p.route(no, () => whereData(no)), null);
  });
  it('vigil.* events only reach triggers that name a vigil. pattern; depth limit stops chains', () => {
    const any = program({ trigger: { type: 'event', expect: ['*'] } }, 'any');
    const lifecycle = program({ trigger: { type: 'event', expect: ['vigil.automation.triggered'] } }, 'lifecycle');
    const snapshot = buildCatalogSnapshot([any, lifecycle]);
    const e = event({ event: 'vigil.automation.triggered', payload: { vigil_depth: 1 } });
    assert.deepEqual(snapshot.route(e).map((m) => m.program.automation.name), ['lifecycle']);
    const deep = event({ event: 'vigil.automation.triggered', payload: { vigil_depth: 5 } });
    assert.deepEqual(snapshot.route(deep), []);
  });
});

describe('where safety', () => {
  it('rejects unknown operators, computed paths and prototype paths', () => {
    assert.ok(whereProblems({ eval: ['1'] }).length > 0);
    assert.ok(whereProblems({ var: '__proto__' }).length > 0);
    assert.ok(whereProblems({ var: 'resource.constructor.name' }).length > 0);
    assert.ok(whereProblems({ var: { cat: ['__pro', 'to__'] } }).length > 0);
    assert.ok(whereProblems({ '==': [1, 1], extra: 2 }).length > 0);
    assert.ok(whereProblems({ preserve: { a: 1 } }).length > 0);
    assert.deepEqual(whereProblems({ '==': [{ var: 'payload.a' }, 1] }), []);
  });
  it('cannot reach prototypes at run time, and hostile strings stay data', () => {
    const e = event({ event: 'a', payload: { s: 'x' } });
    assert.equal(compileWhere({ '!!': [{ var: 'payload.toString' }] })(whereData(e)), false);
    assert.equal(compileWhere({ '==': [{ var: 'event' }, '"); process.exit(1); ("'] })(whereData(e)), false);
    assert.equal(compileWhere({ some: [{ var: 'related' }, { '==': [{ var: 'role' }, 'x'] }] })(whereData(e)), false);
  });
});

describe('match index', () => {
  it('finds exactly the automations that can match, by name prefix and resource id', () => {
    const programs = [
      program({ trigger: { type: 'event', expect: ['airflow.dag_run.success'] } }, 'exact'),
      program({ trigger: { type: 'event', expect: ['airflow.dag_run.*'] } }, 'prefix'),
      program({ trigger: { type: 'event', expect: ['prefect.*'] } }, 'other'),
      program({ trigger: { type: 'event', expect: ['*'], match: { id: 'airflow.dag.sales' } } }, 'by-id'),
      program({ trigger: { type: 'event', expect: ['*.failed'] } }, 'wild'),
    ];
    const index = buildMatchIndex(programs);
    const names = (e: Parameters<typeof index.candidates>[0]) => index.candidates(e).map((p) => p.automation.name).sort();
    assert.deepEqual(names(event({ event: 'airflow.dag_run.success', resource: { id: 'airflow.dag.sales' } })), ['by-id', 'exact', 'prefix', 'wild']);
    assert.deepEqual(names(event({ event: 'airflow.dag_run.successful', resource: { id: 'x' } })), ['prefix', 'wild']);
    assert.deepEqual(names(event({ event: 'dbt.run', resource: { id: 'x' } })), ['wild']);
  });
  it('agrees with a full scan on random automations', () => {
    const names = ['a.b.c', 'a.b.d', 'a.x', 'b.c', 'vigil.automation.triggered'];
    const globs = ['a.*', 'a.b.*', 'a.b.c', '*.c', '*', '!a.x', 'b.*', 'vigil.*'];
    const programs = Array.from({ length: 60 }, (_, i) =>
      program({ trigger: { type: 'event', expect: [globs[i % globs.length]!, ...(i % 3 === 0 ? [globs[(i * 7) % globs.length]!] : [])], ...(i % 4 === 0 ? { match: { id: `r${i % 3}` } } : {}) } }, `p${i}`),
    );
    const snapshot = buildCatalogSnapshot(programs);
    for (const name of names) {
      for (const id of ['r0', 'r1', 'r2', 'zz']) {
        const e = event({ event: name, resource: { id } });
        const viaIndex = snapshot.route(e).map((m) => m.program.automation.name).sort();
        const viaScan = programs.filter((p) => p.route(e, () => whereData(e))).map((p) => p.automation.name).sort();
        assert.deepEqual(viaIndex, viaScan, `${name} ${id}`);
      }
    }
  });
});

describe('match index, randomized against a full scan', () => {
  const names = ['a.b.c', 'a.b.d', 'a.x', 'b.c', 'b', 'ab.c', 'vigil.automation.triggered', 'vigil.event.late'];
  const globs = ['a.*', 'a.b.*', 'a.b.c', 'a*', '*.c', '*', '!a.x', '!b.*', 'b.*', 'b', 'a.*.c', 'vigil.*', 'vigil.automation.triggered', 'x.y'];
  const labelValues = ['r0', 'r1', 'r2', 'prod', 'dev', 'r*', '!r1', '!prod', '*'];
  const labelKeys = ['id', 'env', 'dag_id'];
  const properties = Array.from({ length: 8 }, (_, seed) => seed);

  for (const seed of properties) {
    it(`seed ${seed}: the index offers every automation that matches, and route finds exactly those`, () => {
      const rand = seededRandom(seed + 1);
      const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
      const some = <T>(list: readonly T[], max: number): T[] => Array.from({ length: 1 + Math.floor(rand() * max) }, () => pick(list));
      const match = (): Record<string, string | string[]> | undefined => {
        if (rand() < 0.3) return undefined;
        const m: Record<string, string | string[]> = {};
        for (const key of some(labelKeys, 2)) m[key] = rand() < 0.5 ? pick(labelValues) : some(labelValues, 3);
        return m;
      };
      const child = (): Record<string, unknown> => ({ type: 'event', expect: some(globs, 3), ...(match() ? { match: match() } : {}) });
      const programs = Array.from({ length: 120 }, (_, i) => {
        const kind = rand();
        const trigger =
          kind < 0.6
            ? child()
            : kind < 0.8
              ? { ...child(), posture: 'proactive', within: '1h', after: some(globs, 2) }
              : { type: rand() < 0.5 ? 'compound' : 'sequence', within: '1h', triggers: [child(), child()] };
        return program({ trigger }, `p${i}`);
      });
      const snapshot = buildCatalogSnapshot(programs);
      for (let k = 0; k < 300; k++) {
        const resource: Record<string, string> = { id: pick(['r0', 'r1', 'r2', 'r3']) };
        if (rand() < 0.6) resource['env'] = pick(['prod', 'dev', 'r1']);
        if (rand() < 0.4) resource['dag_id'] = pick(['r0', 'r2', 'x']);
        const e = event({ event: pick(names), resource: resource as { id: string } });
        const offered = new Set(snapshot.index.candidates(e).map((p) => p.automation.name));
        const viaScan = programs.filter((p) => p.route(e, () => whereData(e)) !== null).map((p) => p.automation.name).sort();
        for (const name of viaScan) assert.ok(offered.has(name), `${name} matches ${JSON.stringify(e)} but the index did not offer it`);
        assert.deepEqual(snapshot.route(e).map((m) => m.program.automation.name).sort(), viaScan);
      }
    });
  }

  it('a trigger per DAG on one event name is one candidate, not one per DAG', () => {
    const programs = Array.from({ length: 500 }, (_, i) =>
      program({ trigger: { type: 'event', expect: ['airflow.dag_run.failed'], match: { dag_id: `d${i}`, env: ['prod', 'staging'] } } }, `dag-${i}`),
    );
    const index = buildMatchIndex(programs);
    const e = event({ event: 'airflow.dag_run.failed', resource: { id: 'x', dag_id: 'd7', env: 'prod' } });
    assert.deepEqual(index.candidates(e).map((p) => p.automation.name), ['dag-7']);
    assert.deepEqual(index.candidates(event({ event: 'airflow.dag_run.failed', resource: { id: 'x', env: 'prod' } })), []);
  });
});

describe('explain', () => {
  it('names every clause that failed', () => {
    const a = automation({ trigger: { type: 'event', expect: ['airflow.*'], match: { env: 'prod' }, where: { '>': [{ var: 'payload.n' }, 1] }, for_each: ['resource.id'] } });
    const result = explain(a, event({ event: 'dbt.run', resource: { id: 'x', env: 'dev' }, payload: { n: 0 } }));
    assert.equal(result.matched, false);
    const failed = result.clauses.filter((c) => !c.matched).map((c) => c.clause);
    assert.deepEqual(failed, ['trigger.expect', 'trigger.match.env', 'trigger.where']);
    const ok = explain(a, event({ event: 'airflow.x', resource: { id: 'x', env: 'prod' }, payload: { n: 5 } }));
    assert.equal(ok.matched, true);
  });
});
