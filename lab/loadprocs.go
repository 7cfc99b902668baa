package lab

import (
	"os"
	"runtime"

	"github.com/evento-lab/evento/lab/cluster"
)

// useLoadProcs gives this process, whose clients are a bench's load, the
// share of the cores each of servers gets (cluster.ServerProcs), unless
// the environment sets GOMAXPROCS: with every core, the clients' idle
// threads spin and wake one another for work one thread does, as a
// server's would. It returns what gives the cores back.
func useLoadProcs(servers int) (restore func()) {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return func() {}
	}
	n := cluster.ServerProcs(servers)
	if n == 0 {
		return func() {}
	}
	old := runtime.GOMAXPROCS(n)
	return func() { runtime.GOMAXPROCS(old) }
}
