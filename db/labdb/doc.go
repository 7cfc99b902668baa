// Package labdb is the lab's side of the database: it creates the events
// an experiment books (Seed), reads back what a run left (EventRecords, in
// one snapshot, for the checker), waits for abandoned holds to settle, and
// cuts the pgbench script from the strategy SQL. The service never calls
// it; it lives under db/ because only db/ speaks SQL.
package labdb
