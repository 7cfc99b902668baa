// Package client is the lab's client, in Jepsen's sense: many simulated
// customers following the brief's protocol against Evento's servers over
// HTTP, and the ledger of what each operation came to — ok (acknowledged),
// failed (certainly not booked) or unknown (sent, never answered: maybe
// booked). It speaks HTTP only and never reads the database, so it can drive
// servers anywhere; the checker judges its ledger.
package client
