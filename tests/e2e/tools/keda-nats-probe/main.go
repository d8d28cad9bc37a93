// Command keda-nats-probe checks a ScaledObject rendered by the function against a real NATS
// JetStream server with KEDA's own nats-jetstream scaler: it creates the trigger's stream and
// durable consumer, publishes messages, optionally acknowledges some, and asks the scaler
// (scalers.NewNATSJetStreamScaler, unchanged) for the lag and activity.
//
// Only the trigger's natsServerMonitoringEndpoint is redirected to the test server; every other
// trigger field is used exactly as rendered.
//
// For a cluster, -replicas keeps that many copies of the stream, -push makes the consumer a push
// consumer, and -measure-only asks the scaler about what exists, creating and publishing nothing
// (as after a node has stopped).
//
// With -expect found or missing the probe judges the scaler's answer itself. With -expect report
// it prints what the server was sent and what the scaler answered, as JSON lines for the test to
// judge; with -expect refused the consumer must be refused, and it prints the server's error.
// Every JSON line starts with a word: "sent", "report" or "refused".
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers"
	"github.com/kedacore/keda/v2/pkg/scalers/scalersconfig"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"sigs.k8s.io/yaml"
)

type options struct {
	render      string
	natsURL     string
	user        string
	password    string
	monitoring  string
	publish     int
	ack         int
	expect      string
	consumer    string
	subjects    string
	publishOn   subjectCounts
	fetch       int
	noConsumer  bool
	replicas    int
	push        bool
	measureOnly bool
}

// subjectCounts is a repeatable SUBJECT=COUNT flag: messages to publish on each subject.
type subjectCounts []subjectCount

type subjectCount struct {
	subject string
	count   int
}

func (s *subjectCounts) String() string { return fmt.Sprint(*s) }

func (s *subjectCounts) Set(value string) error {
	subject, count, ok := strings.Cut(value, "=")
	n, err := strconv.Atoi(count)
	if !ok || subject == "" || err != nil || n < 0 {
		return fmt.Errorf("%q is not SUBJECT=COUNT", value)
	}
	*s = append(*s, subjectCount{subject, n})
	return nil
}

func main() {
	var o options
	flag.StringVar(&o.render, "render", "", "output of the function's render command (YAML documents)")
	flag.StringVar(&o.natsURL, "nats", "nats://127.0.0.1:4222", "client URL of the test server")
	flag.StringVar(&o.user, "user", "", "client user, for servers with configured accounts")
	flag.StringVar(&o.password, "password", "", "client password")
	flag.StringVar(&o.monitoring, "monitoring", "127.0.0.1:8222", "host:port of the test server's monitoring port")
	flag.IntVar(&o.publish, "publish", 10, "messages to publish on <stream in lower case>.work")
	flag.IntVar(&o.ack, "ack", 0, "messages to fetch and acknowledge before asking the scaler again")
	flag.StringVar(&o.expect, "expect", "found", "found: the scaler reads the lag; missing: it finds no consumer; "+
		"report: print the scaler's answer; refused: the server refuses the consumer")
	flag.StringVar(&o.consumer, "consumer-config", "", "JSON of a NACK Consumer spec to create the consumer from, as NACK does (default: explicit acks, nothing else)")
	flag.StringVar(&o.subjects, "subjects", "", "comma-separated subjects of the stream (default: <stream in lower case>.work)")
	flag.Var(&o.publishOn, "publish-on", "SUBJECT=COUNT: also publish COUNT messages on SUBJECT (repeatable)")
	flag.IntVar(&o.fetch, "fetch", 0, "messages to fetch and leave unacknowledged before asking the scaler (report mode)")
	flag.BoolVar(&o.noConsumer, "no-consumer", false, "create the stream only, as before NACK has created the consumer")
	flag.IntVar(&o.replicas, "replicas", 1, "copies of the stream (and its consumer) a cluster keeps")
	flag.BoolVar(&o.push, "push", false, "create a push consumer (with a deliver subject) instead of a pull consumer")
	flag.BoolVar(&o.measureOnly, "measure-only", false, "create and publish nothing: only ask the scaler, about what exists")
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
	var cons jetstream.Consumer
	if !o.measureOnly {
		nc, c, done, err := setup(ctx, o, stream, consumer)
		if nc != nil {
			defer nc.Close()
		}
		if err != nil || done {
			return err
		}
		cons = c
	} else if o.ack > 0 || o.fetch > 0 {
		return errors.New("-measure-only creates and publishes nothing, so it cannot ack or fetch")
	}

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
	spec := scaler.GetMetricSpecForScaling(ctx)[0].External
	metricName := spec.Metric.Name

	lag, active, err := measure(ctx, scaler, metricName)
	if o.expect == "report" {
		r := report{Metric: metricName, TargetType: string(spec.Target.Type), Lag: lag, Active: active}
		if spec.Target.AverageValue != nil {
			r.TargetAverageValue = spec.Target.AverageValue.String()
		}
		if spec.Target.Value != nil {
			r.TargetValue = spec.Target.Value.String()
		}
		if err != nil {
			r.Error = err.Error()
		}
		return printJSON("report", r)
	}
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

// setup creates the trigger's stream (with -replicas copies) and its durable consumer (pull, or
// push with -push), publishes, and fetches; done is true when -expect refused has been judged.
func setup(ctx context.Context, o options, stream, consumer string) (nc *nats.Conn, cons jetstream.Consumer, done bool, err error) {
	var connectOpts []nats.Option
	if o.user != "" {
		connectOpts = append(connectOpts, nats.UserInfo(o.user, o.password))
	}
	nc, err = nats.Connect(o.natsURL, connectOpts...)
	if err != nil {
		return nil, nil, false, fmt.Errorf("connect to %s: %w", o.natsURL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nc, nil, false, err
	}
	subject := strings.ToLower(stream) + ".work"
	subjects := []string{subject}
	if o.subjects != "" {
		subjects = strings.Split(o.subjects, ",")
	}
	streamConfig := jetstream.StreamConfig{Name: stream, Subjects: subjects, Replicas: o.replicas}
	if _, err := js.CreateOrUpdateStream(ctx, streamConfig); err != nil {
		return nc, nil, false, fmt.Errorf("create stream %s: %w", stream, err)
	}
	if o.push {
		// A push consumer, through the older JetStream API that still creates them.
		legacy, err := nc.JetStream()
		if err != nil {
			return nc, nil, false, err
		}
		if _, err := legacy.AddConsumer(stream, &nats.ConsumerConfig{
			Durable: consumer, DeliverSubject: strings.ToLower(stream) + ".deliver", AckPolicy: nats.AckExplicitPolicy,
		}); err != nil {
			return nc, nil, false, fmt.Errorf("create push consumer %s: %w", consumer, err)
		}
		fmt.Printf("created push consumer %s\n", consumer)
	} else if !o.noConsumer {
		config, err := consumerConfig(stream, consumer, o.consumer)
		if err != nil {
			return nc, nil, false, err
		}
		if err := printJSON("sent", config); err != nil {
			return nc, nil, false, err
		}
		cons, err = js.CreateOrUpdateConsumer(ctx, stream, config)
		if o.expect == "refused" {
			var refusal *jetstream.APIError
			if errors.As(err, &refusal) {
				return nc, nil, true, printJSON("refused", refusal)
			}
			return nc, nil, false, fmt.Errorf("expected the server to refuse consumer %s, got %v", consumer, err)
		}
		if err != nil {
			return nc, nil, false, fmt.Errorf("create consumer %s: %w", consumer, err)
		}
	}
	published := append(subjectCounts{{subject, o.publish}}, o.publishOn...)
	for _, p := range published {
		for i := 0; i < p.count; i++ {
			if _, err := js.Publish(ctx, p.subject, []byte(fmt.Sprintf("job %d", i))); err != nil {
				return nc, nil, false, fmt.Errorf("publish on %s: %w", p.subject, err)
			}
		}
		if p.count > 0 {
			fmt.Printf("published %d messages to %s on stream %s\n", p.count, p.subject, stream)
		}
	}
	if o.fetch > 0 {
		if err := fetchUnacked(cons, o.fetch); err != nil {
			return nc, nil, false, err
		}
	}

	return nc, cons, false, nil
}

// report is what the scaler answered, for the test to judge.
type report struct {
	Metric             string `json:"metric"`
	TargetType         string `json:"targetType"`
	TargetAverageValue string `json:"targetAverageValue,omitempty"`
	TargetValue        string `json:"targetValue,omitempty"`
	Lag                int64  `json:"lag"`
	Active             bool   `json:"active"`
	Error              string `json:"error,omitempty"`
}

func printJSON(word string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Printf("%s %s\n", word, data)
	return nil
}

// fetchUnacked takes n messages as a worker would and leaves them unacknowledged: in flight,
// counted by the server as num_ack_pending until the ack wait runs out.
func fetchUnacked(cons jetstream.Consumer, n int) error {
	if cons == nil {
		return errors.New("-fetch needs a consumer")
	}
	// A consumer just created on a fresh cluster may have no leader yet: its first fetch then
	// finds no responders. Nothing was delivered, so it is asked again, within a bound.
	deadline := time.Now().Add(15 * time.Second)
	var batch jetstream.MessageBatch
	fetched := 0
	for {
		var err error
		batch, err = cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		for range batch.Messages() {
			fetched++
		}
		if fetched > 0 || !errors.Is(batch.Error(), nats.ErrNoResponders) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if fetched != n {
		return fmt.Errorf("fetched %d messages, wanted %d (%v)", fetched, n, batch.Error())
	}
	fmt.Printf("fetched %d messages, left unacknowledged\n", fetched)
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

// consumerConfig is the durable pull consumer the worker binds to. Without a NACK Consumer spec:
// explicit acks, nothing else. With one: the configuration NACK's control loop sends for it
// (nats-io/nack v0.22.4 internal/controller/consumer_controller.go consumerSpecToConfig, applied
// over jsm.go v0.3.0's DefaultConsumer, which also names the consumer after its durable name).
func consumerConfig(stream, name, nackSpec string) (jetstream.ConsumerConfig, error) {
	if nackSpec == "" {
		return jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy}, nil
	}
	var spec nackConsumerSpec
	decoder := json.NewDecoder(strings.NewReader(nackSpec))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&spec); err != nil {
		return jetstream.ConsumerConfig{}, fmt.Errorf("consumer spec (a field the probe does not translate yet?): %w", err)
	}
	if spec.StreamName != stream || spec.DurableName != name {
		return jetstream.ConsumerConfig{}, fmt.Errorf(
			"the Consumer is %s/%s but the trigger watches %s/%s: KEDA would read a consumer NACK never creates",
			spec.StreamName, spec.DurableName, stream, name)
	}
	config := jetstream.ConsumerConfig{
		Name:          spec.DurableName,
		Durable:       spec.DurableName,
		Description:   spec.Description,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
		MaxAckPending: spec.MaxAckPending,
		MaxWaiting:    spec.MaxWaiting,
		Replicas:      spec.Replicas,
		Metadata:      spec.Metadata,
	}
	var err error
	if config.AckPolicy, err = nackEnum("ackPolicy", spec.AckPolicy, config.AckPolicy,
		map[string]jetstream.AckPolicy{
			"none": jetstream.AckNonePolicy, "all": jetstream.AckAllPolicy, "explicit": jetstream.AckExplicitPolicy,
		}, "NACK accepts none, all, explicit"); err != nil {
		return config, err
	}
	if config.DeliverPolicy, err = nackEnum("deliverPolicy", spec.DeliverPolicy, config.DeliverPolicy,
		map[string]jetstream.DeliverPolicy{
			"all": jetstream.DeliverAllPolicy, "last": jetstream.DeliverLastPolicy, "new": jetstream.DeliverNewPolicy,
			"lastPerSubject": jetstream.DeliverLastPerSubjectPolicy,
		}, "the probe translates all, last, new, lastPerSubject"); err != nil {
		return config, err
	}
	if config.ReplayPolicy, err = nackEnum("replayPolicy", spec.ReplayPolicy, config.ReplayPolicy,
		map[string]jetstream.ReplayPolicy{
			"instant": jetstream.ReplayInstantPolicy, "original": jetstream.ReplayOriginalPolicy,
		}, "NACK accepts instant, original"); err != nil {
		return config, err
	}
	if spec.AckWait != "" {
		if config.AckWait, err = time.ParseDuration(spec.AckWait); err != nil {
			return config, fmt.Errorf("invalid ack wait duration: %w", err)
		}
	}
	if spec.InactiveThreshold != "" {
		if config.InactiveThreshold, err = time.ParseDuration(spec.InactiveThreshold); err != nil {
			return config, fmt.Errorf("invalid inactive threshold: %w", err)
		}
	}
	switch {
	case spec.FilterSubject != "" && len(spec.FilterSubjects) > 0:
		return config, errors.New("cannot set both 'filterSubject' and 'filterSubjects'")
	case spec.FilterSubject != "":
		config.FilterSubject = spec.FilterSubject
	// jsm.go sends a single filter as filter_subject, more as filter_subjects.
	case len(spec.FilterSubjects) == 1:
		config.FilterSubject = spec.FilterSubjects[0]
	default:
		config.FilterSubjects = spec.FilterSubjects
	}
	// NACK leaves 0 unsent (jsm.go refuses it); the server then delivers without limit.
	config.MaxDeliver = spec.MaxDeliver
	for _, b := range spec.BackOff {
		d, err := time.ParseDuration(b)
		if err != nil {
			return config, fmt.Errorf("invalid backoff: %w", err)
		}
		config.BackOff = append(config.BackOff, d)
	}
	return config, nil
}

// nackEnum reads one of NACK's enum fields: empty keeps def, a listed name gives its value, and
// anything else is an error naming the field and what it accepts.
func nackEnum[T any](field, value string, def T, names map[string]T, accepts string) (T, error) {
	if value == "" {
		return def, nil
	}
	if v, ok := names[value]; ok {
		return v, nil
	}
	return def, fmt.Errorf("%s %q: %s", field, value, accepts)
}

// nackConsumerSpec is the part of a NACK v1beta2 Consumer spec (pkg/jetstream/apis/jetstream/
// v1beta2/consumertypes.go) the probe translates, and the connection and lifecycle fields, which
// never reach the consumer's configuration. Any other field fails the probe, so a field the
// function starts to render is translated here before the test can pass, not silently dropped.
type nackConsumerSpec struct {
	StreamName        string            `json:"streamName"`
	DurableName       string            `json:"durableName"`
	Description       string            `json:"description"`
	DeliverPolicy     string            `json:"deliverPolicy"`
	AckPolicy         string            `json:"ackPolicy"`
	AckWait           string            `json:"ackWait"`
	MaxDeliver        int               `json:"maxDeliver"`
	MaxAckPending     int               `json:"maxAckPending"`
	MaxWaiting        int               `json:"maxWaiting"`
	FilterSubject     string            `json:"filterSubject"`
	FilterSubjects    []string          `json:"filterSubjects"`
	BackOff           []string          `json:"backoff"`
	ReplayPolicy      string            `json:"replayPolicy"`
	InactiveThreshold string            `json:"inactiveThreshold"`
	Replicas          int               `json:"replicas"`
	Metadata          map[string]string `json:"metadata"`

	PreventDelete bool            `json:"preventDelete"`
	PreventUpdate bool            `json:"preventUpdate"`
	Account       string          `json:"account"`
	Creds         string          `json:"creds"`
	Nkey          string          `json:"nkey"`
	Servers       []string        `json:"servers"`
	TLS           json.RawMessage `json:"tls"`
	TLSFirst      bool            `json:"tlsFirst"`
	JSDomain      string          `json:"jsDomain"`
}
