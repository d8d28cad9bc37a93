// Command keda-nats-probe checks a ScaledObject rendered by the function against a real NATS
// JetStream server with KEDA's own nats-jetstream scaler: it creates the trigger's stream and
// durable consumer, publishes messages, optionally acknowledges some, and asks the scaler
// (scalers.NewNATSJetStreamScaler, unchanged) for the lag and activity.
//
// Only the trigger's natsServerMonitoringEndpoint is redirected to the test server; every other
// trigger field is used exactly as rendered.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers"
	"github.com/kedacore/keda/v2/pkg/scalers/scalersconfig"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"sigs.k8s.io/yaml"
)

type options struct {
	render     string
	natsURL    string
	user       string
	password   string
	monitoring string
	publish    int
	ack        int
	expect     string
	consumer   string
}

func main() {
	var o options
	flag.StringVar(&o.render, "render", "", "output of the function's render command (YAML documents)")
	flag.StringVar(&o.natsURL, "nats", "nats://127.0.0.1:4222", "client URL of the test server")
	flag.StringVar(&o.user, "user", "", "client user, for servers with configured accounts")
	flag.StringVar(&o.password, "password", "", "client password")
	flag.StringVar(&o.monitoring, "monitoring", "127.0.0.1:8222", "host:port of the test server's monitoring port")
	flag.IntVar(&o.publish, "publish", 10, "messages to publish to the stream")
	flag.IntVar(&o.ack, "ack", 0, "messages to fetch and acknowledge before asking the scaler again")
	flag.StringVar(&o.expect, "expect", "found", "found: the scaler reads the lag; missing: it finds no consumer")
	flag.StringVar(&o.consumer, "consumer-config", "", "JSON of a NACK Consumer spec to create the consumer from (default: explicit acks, nothing else)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	trigger, err := renderedTrigger(o.render)
	if err != nil {
		return err
	}
	fmt.Printf("trigger metadata as rendered: %v\n", trigger)
	stream, consumer := trigger["stream"], trigger["consumer"]

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var connectOpts []nats.Option
	if o.user != "" {
		connectOpts = append(connectOpts, nats.UserInfo(o.user, o.password))
	}
	nc, err := nats.Connect(o.natsURL, connectOpts...)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", o.natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	subject := strings.ToLower(stream) + ".work"
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject}}); err != nil {
		return fmt.Errorf("create stream %s: %w", stream, err)
	}
	config, err := consumerConfig(consumer, o.consumer)
	if err != nil {
		return err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, config)
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", consumer, err)
	}
	for i := 0; i < o.publish; i++ {
		if _, err := js.Publish(ctx, subject, []byte(fmt.Sprintf("job %d", i))); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
	}
	fmt.Printf("published %d messages to %s on stream %s\n", o.publish, subject, stream)

	trigger["natsServerMonitoringEndpoint"] = o.monitoring
	scaler, err := scalers.NewNATSJetStreamScaler(&scalersconfig.ScalerConfig{
		ScalableObjectName:      "probe",
		ScalableObjectNamespace: "probe",
		ScalableObjectType:      "ScaledObject",
		TriggerType:             "nats-jetstream",
		TriggerMetadata:         trigger,
		GlobalHTTPTimeout:       5 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("KEDA refuses the trigger metadata: %w", err)
	}
	defer scaler.Close(ctx)
	metricName := scaler.GetMetricSpecForScaling(ctx)[0].External.Metric.Name

	lag, active, err := measure(ctx, scaler, metricName)
	if o.expect == "missing" {
		if err == nil && lag > 0 {
			return fmt.Errorf("expected the scaler to find no consumer, but it read lag %d (active %v)", lag, active)
		}
		fmt.Printf("as expected, the scaler found nothing: lag %d, error %v\n", lag, err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("scaler: %w", err)
	}
	fmt.Printf("scaler: metric %s lag %d active %v\n", metricName, lag, active)
	if lag != int64(o.publish) || !active {
		return fmt.Errorf("expected lag %d and active after publishing, got lag %d active %v", o.publish, lag, active)
	}
	if o.ack == 0 {
		return nil
	}
	batch, err := cons.Fetch(o.ack, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	acked := 0
	for msg := range batch.Messages() {
		if err := msg.DoubleAck(ctx); err != nil {
			return fmt.Errorf("ack: %w", err)
		}
		acked++
	}
	if acked != o.ack {
		return fmt.Errorf("fetched %d messages, wanted %d (%v)", acked, o.ack, batch.Error())
	}
	want := int64(o.publish - o.ack)
	lag, active, err = measure(ctx, scaler, metricName)
	if err != nil {
		return fmt.Errorf("scaler after acks: %w", err)
	}
	fmt.Printf("scaler after %d acks: lag %d active %v\n", acked, lag, active)
	if lag != want || active != (want > 0) {
		return fmt.Errorf("expected lag %d after acks, got %d (active %v)", want, lag, active)
	}
	return nil
}

func measure(ctx context.Context, scaler scalers.Scaler, metricName string) (int64, bool, error) {
	metrics, active, err := scaler.GetMetricsAndActivity(ctx, metricName)
	if err != nil {
		return 0, active, err
	}
	if len(metrics) != 1 {
		return 0, active, fmt.Errorf("expected one metric, got %d", len(metrics))
	}
	return metrics[0].Value.MilliValue() / 1000, active, nil
}

// renderedTrigger finds the ScaledObject among the rendered documents, wrapped in an Object or
// not, and returns its nats-jetstream trigger metadata.
func renderedTrigger(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, doc := range bytes.Split(data, []byte("\n---")) {
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil || obj == nil {
			continue
		}
		if manifest, ok := dig(obj, "spec", "forProvider", "manifest").(map[string]any); ok {
			obj = manifest
		}
		if obj["kind"] != "ScaledObject" {
			continue
		}
		triggers, _ := dig(obj, "spec", "triggers").([]any)
		for _, t := range triggers {
			trigger, _ := t.(map[string]any)
			if trigger["type"] != "nats-jetstream" {
				continue
			}
			metadata := map[string]string{}
			for key, value := range trigger["metadata"].(map[string]any) {
				text, ok := value.(string)
				if !ok {
					return nil, fmt.Errorf("trigger metadata %s is %T, KEDA reads only strings", key, value)
				}
				metadata[key] = text
			}
			return metadata, nil
		}
	}
	return nil, errors.New(path + ": no ScaledObject with a nats-jetstream trigger")
}

func dig(obj map[string]any, keys ...string) any {
	var current any = obj
	for _, key := range keys {
		m, ok := current.(map[string]any)
		if !ok {
			return nil
		}
		current = m[key]
	}
	return current
}

// consumerConfig is the durable pull consumer the worker binds to: explicit acks, and the
// settings of a NACK Consumer spec when one is given.
func consumerConfig(name, nackSpec string) (jetstream.ConsumerConfig, error) {
	config := jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy}
	if nackSpec == "" {
		return config, nil
	}
	var spec struct {
		AckWait        string   `json:"ackWait"`
		MaxDeliver     int      `json:"maxDeliver"`
		MaxAckPending  int      `json:"maxAckPending"`
		FilterSubjects []string `json:"filterSubjects"`
		Backoff        []string `json:"backoff"`
	}
	if err := json.Unmarshal([]byte(nackSpec), &spec); err != nil {
		return config, fmt.Errorf("consumer spec: %w", err)
	}
	var err error
	if spec.AckWait != "" {
		if config.AckWait, err = time.ParseDuration(spec.AckWait); err != nil {
			return config, err
		}
	}
	config.MaxDeliver = spec.MaxDeliver
	config.MaxAckPending = spec.MaxAckPending
	config.FilterSubjects = spec.FilterSubjects
	for _, b := range spec.Backoff {
		d, err := time.ParseDuration(b)
		if err != nil {
			return config, err
		}
		config.BackOff = append(config.BackOff, d)
	}
	return config, nil
}
