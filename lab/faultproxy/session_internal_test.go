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
