// Package lab is Evento's second product: the test harness that shows
// whether a concurrency-control strategy overbooks, and what it costs. It is
// the experiment itself, Jepsen's run!: seed a fresh event, start the
// servers (lab/cluster), run the clients (lab/client), wait for holds to
// settle, observe what the database holds, judge it (lab/checker) and lay
// out the report (lab/report). Compare runs every strategy on one workload;
// Bench measures the hot row against pgbench; Load drives servers that run
// elsewhere. It is the one lab package that seeds events and reads their
// records through db (lab/cluster only opens and migrates the database),
// and nothing in the service imports it.
package lab
