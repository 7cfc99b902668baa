// Package checker is the lab's checker, in Jepsen's sense: it judges a run
// from the clients' ledger (lab/client) and what the system of record shows
// afterwards, never from the strategy's name. An unknown outcome is allowed
// either way: a correct system has acknowledged <= booked <= acknowledged +
// unknown. It reads the servers through their API (observe.go); what the
// database holds is handed to it as Observed by the experiment (package
// lab), so that this package and lab/report stay free of the database
// driver.
package checker
