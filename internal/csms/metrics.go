package csms

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	connections     prometheus.Gauge
	messages        *prometheus.CounterVec
	faults          *prometheus.CounterVec
	refused         prometheus.Counter
	commandDuration *prometheus.HistogramVec
	messageDuration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "joule_ocpp_connections", Help: "Chargers connected to this process."}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "joule_ocpp_messages_total",
			Help: "OCPP CALLs received from chargers, by action."}, []string{"action"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "joule_ocpp_faults_total",
			Help: "Charger messages acknowledged but not applied, by action."}, []string{"action"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "joule_ocpp_refused_total", Help: "Charger connections refused (unknown identity or bad credentials)."}),
		commandDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "joule_ocpp_command_duration_seconds",
			Help: "Time for chargers to answer commands, by action.", Buckets: prometheus.DefBuckets}, []string{"action"}),
		messageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "joule_ocpp_message_duration_seconds",
			Help:    "Time to handle a charger's CALL (its writes committed) until its answer is queued, by action.",
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"action"}),
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.messages, m.faults, m.refused, m.commandDuration, m.messageDuration)
	}
	return m
}
