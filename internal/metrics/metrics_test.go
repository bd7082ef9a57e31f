package metrics

import (
	"strings"
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

func TestExposureCollector(t *testing.T) {
	c := exposureCollector{}
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("%d series before a counter is set", n)
	}
	CountExposuresWith(func() map[ConditionKey]int {
		return map[ConditionKey]int{{"Ready", "True"}: 3, {"Ready", "False"}: 1, {"Stalled", "True"}: 1}
	})
	want := `
# HELP inference_exposure_exposures InferenceExposures by condition type and status (Ready, Stalled, PortsAllocated, Routed, ...).
# TYPE inference_exposure_exposures gauge
inference_exposure_exposures{condition="Ready",status="False"} 1
inference_exposure_exposures{condition="Ready",status="True"} 3
inference_exposure_exposures{condition="Stalled",status="True"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
