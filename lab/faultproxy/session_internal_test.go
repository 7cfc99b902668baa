package faultproxy

import "testing"

// Commits loses the reply to the message that commits, whatever the
// protocol, and to none inside a transaction block: a savepoint rolled
// back leaves the block open.
func TestCommitsMatchesOnlyTheMessageThatCommits(t *testing.T) {
	q := func(text string) message { return message{'Q', append([]byte(text), 0)} }
	sent := []struct {
		msg  message
		lost bool
	}{
		{message{'P', nil}, false}, {message{'D', nil}, false}, {message{'S', nil}, false}, // prepared only
		{message{'B', nil}, false}, {message{'E', nil}, false}, {message{'S', nil}, true}, // an autocommit statement
		{q("begin isolation level read committed"), false},
		{message{'B', nil}, false}, {message{'E', nil}, false}, {message{'S', nil}, false},
		{q("SAVEPOINT sharded_pick"), false}, {q("ROLLBACK TO SAVEPOINT sharded_pick"), false},
		{message{'B', nil}, false}, {message{'E', nil}, false}, {message{'S', nil}, false},
		{q("commit"), true},
		{q("begin"), false}, {q("rollback"), false},
		{message{'B', nil}, false}, {message{'E', nil}, false}, {message{'S', nil}, true},
	}
	commits := Commits()
	var s Session
	for i, m := range sent {
		if got := commits(m.msg.typ, m.msg.body, s); got != m.lost {
			t.Errorf("message %d (%c %q): lost %v, want %v", i, m.msg.typ, m.msg.body, got, m.lost)
		}
		s.observe(m.msg.typ, m.msg.body)
	}
}

type message struct {
	typ  byte
	body []byte
}

// A prepared BEGIN or COMMIT moves the block when a portal bound to it is
// executed, not when it is parsed or bound; a new Parse replaces the
// unnamed statement and a new Bind the unnamed portal, and Close forgets
// a statement.
func TestSessionFollowsPreparedTransactionControl(t *testing.T) {
	cstrings := func(typ byte, parts ...string) message {
		var body []byte
		for _, p := range parts {
			body = append(append(body, p...), 0)
		}
		return message{typ, body}
	}
	parse := func(name, query string) message { return cstrings('P', name, query) }
	bind := func(portal, statement string) message { return cstrings('B', portal, statement) }
	execute := func(portal string) message { return cstrings('E', portal) }
	sent := []struct {
		msg  message
		inTx bool
	}{
		{parse("stmtcache_1", "begin isolation level read committed"), false},
		{bind("", "stmtcache_1"), false},
		{execute(""), true},
		{parse("", "commit"), true},
		{bind("", ""), true},
		{parse("", "select 1"), true}, // the portal still runs the COMMIT
		{execute(""), false},
		{bind("", "stmtcache_1"), false},
		{execute(""), true},
		{bind("", ""), true}, // the unnamed statement is now select 1
		{execute(""), true},
		{parse("stmtcache_2", "ROLLBACK TO SAVEPOINT sharded_pick"), true},
		{bind("", "stmtcache_2"), true},
		{execute(""), true},
		{cstrings('C', "Sstmtcache_1"), true},
		{bind("", "stmtcache_1"), true}, // closed: PostgreSQL refuses to bind it
		{execute(""), true},
	}
	var s Session
	for i, m := range sent {
		s.observe(m.msg.typ, m.msg.body)
		if s.InTx != m.inTx {
			t.Errorf("after message %d (%c %q): InTx %v, want %v", i, m.msg.typ, m.msg.body, s.InTx, m.inTx)
		}
	}
	if len(s.statements) != 0 || len(s.portals) != 0 {
		t.Errorf("remembered %v and %v, want nothing: no statement left begins or ends a block", s.statements, s.portals)
	}
}
