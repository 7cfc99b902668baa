package faultproxy_test

import (
	"testing"

	"github.com/evento-lab/evento/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
