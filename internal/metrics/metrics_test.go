package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBlockSeries(t *testing.T) {
	SetBlock("alpha", 3, 95, 2)
	if got := testutil.ToFloat64(BlockPorts.WithLabelValues("alpha", "foreign")); got != 2 {
		t.Fatalf("foreign = %v", got)
	}
	ForgetTenant("alpha")
	if n := testutil.CollectAndCount(BlockPorts); n != 0 {
		t.Fatalf("%d series left after ForgetTenant", n)
	}
}
