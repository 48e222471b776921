import type { Migration } from '../../lib/db.ts';

/** Run with the table name below: the gateway may share its database with the idp (embedded mode). */
export const GATEWAY_MIGRATIONS_TABLE = 'gateway_migrations';

export const gatewayMigrations: Migration[] = [
  {
    name: '0001_gateway_audit',
    async up(knex) {
      await knex.schema.createTable('gateway_audit', (t) => {
        t.increments('id').primary();
        t.bigInteger('at_ms').notNullable();
        t.string('actor', 200).notNullable();
        t.string('via', 32).notNullable();
        t.string('route', 64).notNullable();
        t.string('from_state', 200).notNullable();
        t.string('to_state', 200).notNullable();
        t.string('reason', 1000).notNullable();
        t.index(['route', 'id']);
      });
    },
    async down(knex) {
      await knex.schema.dropTable('gateway_audit');
    },
  },
];
