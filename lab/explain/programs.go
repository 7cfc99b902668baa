package explain

import (
	"github.com/evento-lab/evento/db"
)

// program is how one subject (a strategy, or the check-then-act
// anti-pattern) books: the moves before its decision and the moves from
// its decision on, each sending the statements the subject's Go code in
// db/ sends, in the same order (db/naive.go, db/pessimistic.go, ...).
// Scenarios interleave the two phases of two sessions.
type program struct {
	subject   string
	isolation string
	// buckets, when above 0, splits the hotel into that many bucket rows
	// for the subject (the layout of a strategy with db.Strategy.Buckets).
	buckets int
	read    func(session int, req request) []move
	write   func(session int, req request) []move
}

const (
	readCommitted  = "READ COMMITTED"
	repeatableRead = "REPEATABLE READ"
	serializable   = "SERIALIZABLE"
)

// Anti-pattern rows of the table: check-then-act at two isolation levels.
const (
	CheckThenActRC = "check-then-act (read committed)"
	CheckThenActRR = "check-then-act (repeatable read)"
)

// programs are the table's rows: every strategy of db.Strategies, then
// the anti-pattern.
func programs() []program {
	out := make([]program, 0, len(db.Strategies)+2)
	for _, s := range db.Strategies {
		if p, ok := strategyProgram(s.Name); ok {
			out = append(out, p)
		}
	}
	return append(out,
		checkThenAct(CheckThenActRC, readCommitted),
		checkThenAct(CheckThenActRR, repeatableRead))
}

// strategyProgram mirrors one strategy's Go function. A strategy added to
// db.Strategies without a program here fails TestEveryStrategyHasAProgram.
func strategyProgram(name string) (program, bool) {
	switch name {
	case "naive":
		return readThenAbsolute(name, readCommitted), true
	case "serializable":
		// naive's very statements: the isolation level is the difference.
		return readThenAbsolute(name, serializable), true
	case "pessimistic":
		return program{subject: name, isolation: readCommitted,
			read: func(i int, req request) []move {
				return []move{read(i, "lock", func(w *world) Stmt {
					return mustNamed("LockHotelRooms", map[string]any{"event_id": w.eventID, "hotel_id": w.hotelID})
				})}
			},
			write: incrementAfterDecision,
		}, true
	case "advisory":
		return program{subject: name, isolation: readCommitted,
			read: func(i int, req request) []move {
				return []move{
					read(i, "key", func(w *world) Stmt {
						return mustNamed("LockHotelKey", map[string]any{"event_id": w.eventID, "hotel_id": w.hotelID})
					}),
					read(i, "read", getHotelRooms),
				}
			},
			// advisory.go: decide, then write only if the rooms still fit
			// (holds do not take the key).
			write: func(i int, req request) []move {
				return []move{
					{session: i, label: "write", build: func(s *sessionState) (planned, bool) {
						return decide(s, req, func() planned {
							return planned{role: roleGuarded, stmt: mustNamed("AtomicBook", map[string]any{
								"event_id": s.w.eventID, "hotel_id": s.w.hotelID, "name": req.name, "rooms": req.rooms,
							})}
						}), true
					}},
					whyRefused(i, getHotelRooms),
				}
			},
		}, true
	case "optimistic":
		return program{subject: name, isolation: readCommitted,
			read: func(i int, req request) []move { return []move{read(i, "read", getHotelRooms)} },
			write: func(i int, req request) []move {
				return []move{{session: i, label: "cas", build: func(s *sessionState) (planned, bool) {
					return decide(s, req, func() planned {
						return planned{role: roleCAS, stmt: mustNamed("OptimisticBook", map[string]any{
							"event_hotel_rooms_id": s.w.ehrID, "seen_updated_at": s.vars["updated_at"],
							"name": req.name, "rooms": req.rooms,
						})}
					}), true
				}}}
			},
		}, true
	case "atomic":
		// atomic runs without a transaction of its own; with an
		// idempotency key the write path opens a READ COMMITTED one, and
		// the sessions here do too, so that a step can be held open.
		return program{subject: name, isolation: readCommitted,
			read: func(int, request) []move { return nil },
			write: func(i int, req request) []move {
				return []move{
					{session: i, label: "book", build: func(s *sessionState) (planned, bool) {
						return planned{role: roleGuarded, stmt: mustNamed("AtomicBook", map[string]any{
							"event_id": s.w.eventID, "hotel_id": s.w.hotelID, "name": req.name, "rooms": req.rooms,
						})}, true
					}},
					whyRefused(i, getHotelRooms),
				}
			},
		}, true
	case "sharded":
		// One room in each of two buckets, and each session asks for
		// both: no bucket has them all, so both take the scattered path.
		return program{subject: name, isolation: readCommitted, buckets: Rooms,
			read: func(int, request) []move { return nil },
			write: func(i int, req request) []move {
				args := func(s *sessionState) map[string]any {
					return map[string]any{"event_id": s.w.eventID, "hotel_id": s.w.hotelID, "name": req.name, "rooms": req.rooms}
				}
				// sharded.go's pickBucket: each pick in a savepoint, rolled
				// back when it booked nothing (the sessions are transactions).
				pick := func(label, query, note string, first bool) []move {
					ran := false
					return []move{
						{session: i, label: label, build: func(s *sessionState) (planned, bool) {
							if !first && !s.zeroRows {
								return planned{}, false
							}
							ran = true
							return planned{role: roleControl, stmt: raw("SAVEPOINT sharded_pick;")}, true
						}},
						{session: i, label: label, build: func(s *sessionState) (planned, bool) {
							return planned{role: roleGuarded, stmt: mustNamed(query, args(s)), note: note}, ran
						}},
						{session: i, label: label, build: func(s *sessionState) (planned, bool) {
							if s.zeroRows {
								return planned{role: roleControl, stmt: raw("ROLLBACK TO SAVEPOINT sharded_pick;")}, ran
							}
							return planned{role: roleControl, stmt: raw("RELEASE SAVEPOINT sharded_pick;")}, ran
						}},
					}
				}
				return concat(
					pick("free", "ShardedBookFree", "", true),
					pick("wait", "ShardedBookWaiting", "Go: no bucket that is not locked has room for all: wait for one that has", false),
					[]move{
						{session: i, label: "scatter", build: func(s *sessionState) (planned, bool) {
							if !s.zeroRows {
								return planned{}, false
							}
							return planned{role: roleGuarded, stmt: mustNamed("ShardedBookScattered", args(s)),
								note: "Go: no single bucket has room for all: lock them all"}, true
						}},
						whyRefused(i, func(w *world) Stmt {
							return mustNamed("ShardedHotelRooms", map[string]any{"event_id": w.eventID, "hotel_id": w.hotelID})
						}),
					})
			},
		}, true
	case "batched":
		return program{subject: name, isolation: readCommitted,
			read: func(int, request) []move { return nil },
			write: func(i int, req request) []move {
				return []move{{session: i, label: "batch", build: func(s *sessionState) (planned, bool) {
					return planned{role: roleBatch, stmt: mustNamed("BatchBook", map[string]any{
						"event_id": s.w.eventID, "hotel_id": s.w.hotelID,
						"names": []string{req.name}, "room_counts": []int32{req.rooms},
					})}, true
				}}}
			},
		}, true
	}
	return program{}, false
}

// read is a move that reads what the session decides from.
func read(session int, label string, stmt func(w *world) Stmt) move {
	return move{session: session, label: label, build: func(s *sessionState) (planned, bool) {
		return planned{role: roleRead, stmt: stmt(s.w)}, true
	}}
}

func getHotelRooms(w *world) Stmt {
	return mustNamed("GetHotelRooms", map[string]any{"event_id": w.eventID, "hotel_id": w.hotelID})
}

// readThenAbsolute is naive.go: read, decide, write the absolute counter.
func readThenAbsolute(name, isolation string) program {
	return program{subject: name, isolation: isolation,
		read: func(i int, req request) []move { return []move{read(i, "read", getHotelRooms)} },
		write: func(i int, req request) []move {
			return []move{{session: i, label: "write", build: func(s *sessionState) (planned, bool) {
				return decide(s, req, func() planned {
					return planned{role: roleWrite, stmt: mustNamed("NaiveBook", map[string]any{
						"event_hotel_rooms_id": s.w.ehrID, "new_reserved": s.int("reserved") + req.rooms,
						"name": req.name, "rooms": req.rooms,
					})}
				}), true
			}}}
		},
	}
}

// incrementAfterDecision is the write of pessimistic.go: decide, then
// increment under the row lock taken by the read.
func incrementAfterDecision(i int, req request) []move {
	return []move{{session: i, label: "write", build: func(s *sessionState) (planned, bool) {
		return decide(s, req, func() planned {
			return planned{role: roleWrite, stmt: mustNamed("PessimisticBook", map[string]any{
				"event_hotel_rooms_id": s.w.ehrID, "name": req.name, "rooms": req.rooms,
			})}
		}), true
	}}}
}

// whyRefused is atomic.go's explainRefusal (and sharded.go's): only when
// the conditional writes booked nothing, read the counters to say why.
func whyRefused(i int, counters func(w *world) Stmt) move {
	return move{session: i, label: "why", build: func(s *sessionState) (planned, bool) {
		if !s.zeroRows {
			return planned{}, false
		}
		s.outcome = "refused"
		return planned{role: roleRead, stmt: counters(s.w), note: "Go: the conditional write booked nothing: refused"}, true
	}}
}

// checkThenAct is queries/check_then_act.sql: read, decide, add
// unconditionally.
func checkThenAct(subject, isolation string) program {
	return program{subject: subject, isolation: isolation,
		read: func(i int, req request) []move {
			return []move{read(i, "check", func(w *world) Stmt {
				return mustNamed("CheckThenActRead", map[string]any{"event_id": w.eventID, "hotel_id": w.hotelID})
			})}
		},
		write: func(i int, req request) []move {
			return []move{{session: i, label: "act", build: func(s *sessionState) (planned, bool) {
				return decide(s, req, func() planned {
					return planned{role: roleWrite, stmt: mustNamed("CheckThenActBook", map[string]any{
						"event_hotel_rooms_id": s.w.ehrID, "name": req.name, "rooms": req.rooms,
					})}
				}), true
			}}}
		},
	}
}
