// Package store is aws-sso-signer's database: accounts, hostnames, API
// keys, certificates, the TXT records of DNS-01 validations, issuance
// budgets, leases and service state.
//
// Two engines run the same schema and the same queries:
//
//   - SQLite (modernc.org/sqlite, pure Go) for one instance, the default;
//   - PostgreSQL (github.com/jackc/pgx/v5) for several instances behind a
//     load balancer, which coordinate only through the database.
//
// Coordination across instances: issuance budgets are checked and
// reserved in one transaction that first locks a counter row (UPDATE of
// the "issuance" row; SQLite's write lock serializes the same way), so
// two instances can never both spend the last unit of a budget or order
// the same hostname at once. Other jobs (the service's own certificate's
// renewal) take a row lease (AcquireLease) that expires if its holder
// dies.
//
// What it protects against: every query is parameterized; API keys are
// stored only as SHA-256 hashes and passwords only as argon2id hashes
// (computed by the caller), so a dump of the database signs nothing; the
// schema is versioned and migrated under a lock, so two instances
// starting at once do not race.
package store
