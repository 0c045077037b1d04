// k8s-validate checks rendered Kubernetes manifests (`helm template` output) without a cluster:
// each YAML document is decoded strictly into the Go type the Kubernetes API itself uses for its
// apiVersion and kind (k8s.io/api, and prometheus-operator's types for a ServiceMonitor), so an
// unknown or misspelt field, a duplicate field, a value of the wrong type or an invalid quantity is
// an error, as the API server's strict field validation would make it. On top of the types it
// checks what the API server's validation would refuse and the types cannot say: names, label keys
// and values, container and port names, environment variable names, a Deployment's selector
// matching its pod template, named probe ports; and the references between the documents (a
// Service's, PodDisruptionBudget's or NetworkPolicy's selector must find pods, their named ports
// must be declared, an HPA's Deployment and an Ingress's or ServiceMonitor's Service must be there).
//
//	k8s-validate [file ...]   (no file, or "-": standard input)
//
// It prints one line per document (kind/name) and exits 1 listing every problem found.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, policyv1.AddToScheme,
		networkingv1.AddToScheme, rbacv1.AddToScheme, batchv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return scheme
}

func main() {
	files := os.Args[1:]
	if len(files) == 0 {
		files = []string{"-"}
	}
	scheme := newScheme()
	var problems []string
	var objects []located
	count := 0
	for _, file := range files {
		var data []byte
		var err error
		if file == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(file)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "k8s-validate: %v\n", err)
			os.Exit(2)
		}
		for index, doc := range splitDocuments(data) {
			where := fmt.Sprintf("%s, document %d", file, index+1)
			summary, object, found := validateDocument(scheme, doc)
			if summary != "" {
				fmt.Printf("%s: %s\n", where, summary)
				count++
				objects = append(objects, located{where, object})
			}
			for _, problem := range found {
				problems = append(problems, fmt.Sprintf("%s: %s", where, problem))
			}
		}
	}
	problems = append(problems, crossCheck(objects)...)
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "k8s-validate: %d problem(s):\n", len(problems))
		for _, problem := range problems {
			fmt.Fprintf(os.Stderr, "  - %s\n", problem)
		}
		os.Exit(1)
	}
	if count == 0 {
		fmt.Fprintln(os.Stderr, "k8s-validate: no manifests found")
		os.Exit(1)
	}
	fmt.Printf("k8s-validate: %d manifests valid\n", count)
}

// splitDocuments splits a YAML stream at its "---" lines, leaving out documents that hold only
// comments or whitespace (helm template writes a "# Source:" comment before each).
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var current bytes.Buffer
	flush := func() {
		if hasContent(current.Bytes()) {
			docs = append(docs, append([]byte(nil), current.Bytes()...))
		}
		current.Reset()
	}
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		trimmed := bytes.TrimRight(line, " \t\r\n")
		if bytes.Equal(trimmed, []byte("---")) || bytes.HasPrefix(trimmed, []byte("--- ")) {
			flush()
			continue
		}
		current.Write(line)
	}
	flush()
	return docs
}

func hasContent(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) > 0 && trimmed[0] != '#' {
			return true
		}
	}
	return false
}

func validateDocument(scheme *runtime.Scheme, doc []byte) (string, runtime.Object, []string) {
	var meta metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return "", nil, []string{fmt.Sprintf("not YAML: %v", err)}
	}
	if meta.APIVersion == "" || meta.Kind == "" {
		return "", nil, []string{"apiVersion and kind are required"}
	}
	gv, err := schema.ParseGroupVersion(meta.APIVersion)
	if err != nil {
		return "", nil, []string{fmt.Sprintf("apiVersion %q: %v", meta.APIVersion, err)}
	}
	object, err := scheme.New(gv.WithKind(meta.Kind))
	if err != nil {
		return "", nil, []string{fmt.Sprintf("%s %s is not a kind this validator knows (a removed or misspelt apiVersion?)", meta.APIVersion, meta.Kind)}
	}
	// Strict: unknown fields and duplicate fields are errors; every value must fit its Go type.
	if err := yaml.UnmarshalStrict(doc, object); err != nil {
		return "", nil, []string{fmt.Sprintf("%s: %v", meta.Kind, err)}
	}
	accessor, ok := object.(metav1.Object)
	if !ok {
		return "", nil, []string{fmt.Sprintf("%s has no metadata", meta.Kind)}
	}
	summary := fmt.Sprintf("%s/%s", meta.Kind, accessor.GetName())
	problems := checkMeta(accessor)
	switch typed := object.(type) {
	case *appsv1.Deployment:
		problems = append(problems, checkSelector("spec.selector", typed.Spec.Selector, typed.Spec.Template.Labels)...)
		problems = append(problems, checkPodSpec(&typed.Spec.Template.Spec)...)
	case *appsv1.StatefulSet:
		problems = append(problems, checkSelector("spec.selector", typed.Spec.Selector, typed.Spec.Template.Labels)...)
		problems = append(problems, checkPodSpec(&typed.Spec.Template.Spec)...)
	case *batchv1.Job:
		problems = append(problems, checkPodSpec(&typed.Spec.Template.Spec)...)
	case *corev1.Service:
		// A Service's name becomes a DNS label: at most 63 characters, starting with a letter.
		for _, msg := range validation.IsDNS1035Label(typed.Name) {
			problems = append(problems, fmt.Sprintf("Service name %q: %s", typed.Name, msg))
		}
		problems = append(problems, checkServicePorts(typed.Spec.Ports)...)
	case *policyv1.PodDisruptionBudget:
		if (typed.Spec.MinAvailable == nil) == (typed.Spec.MaxUnavailable == nil) {
			problems = append(problems, "spec: exactly one of minAvailable and maxUnavailable")
		}
		problems = append(problems, checkSelector("spec.selector", typed.Spec.Selector, nil)...)
	case *autoscalingv2.HorizontalPodAutoscaler:
		if typed.Spec.MaxReplicas < 1 || (typed.Spec.MinReplicas != nil && *typed.Spec.MinReplicas > typed.Spec.MaxReplicas) {
			problems = append(problems, "spec: maxReplicas must be at least 1 and minReplicas")
		}
		if typed.Spec.ScaleTargetRef.Kind == "" || typed.Spec.ScaleTargetRef.Name == "" {
			problems = append(problems, "spec.scaleTargetRef: kind and name are required")
		}
	}
	return summary, object, problems
}

func checkMeta(object metav1.Object) []string {
	var problems []string
	if object.GetName() == "" {
		problems = append(problems, "metadata.name is required")
	}
	for _, msg := range validation.IsDNS1123Subdomain(object.GetName()) {
		problems = append(problems, fmt.Sprintf("metadata.name %q: %s", object.GetName(), msg))
	}
	problems = append(problems, checkLabels("metadata.labels", object.GetLabels())...)
	for _, key := range sortedKeys(object.GetAnnotations()) {
		for _, msg := range validation.IsQualifiedName(strings.ToLower(key)) {
			problems = append(problems, fmt.Sprintf("metadata.annotations %q: %s", key, msg))
		}
	}
	return problems
}

func checkLabels(field string, values map[string]string) []string {
	var problems []string
	for _, key := range sortedKeys(values) {
		for _, msg := range validation.IsQualifiedName(key) {
			problems = append(problems, fmt.Sprintf("%s key %q: %s", field, key, msg))
		}
		for _, msg := range validation.IsValidLabelValue(values[key]) {
			problems = append(problems, fmt.Sprintf("%s[%s] %q: %s", field, key, values[key], msg))
		}
	}
	return problems
}

func checkSelector(field string, selector *metav1.LabelSelector, podLabels map[string]string) []string {
	if selector == nil {
		return []string{field + " is required"}
	}
	problems := checkLabels(field+".matchLabels", selector.MatchLabels)
	parsed, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return append(problems, fmt.Sprintf("%s: %v", field, err))
	}
	if parsed.Empty() {
		problems = append(problems, field+" selects everything")
	}
	if podLabels != nil {
		problems = append(problems, checkLabels("spec.template.metadata.labels", podLabels)...)
		if !parsed.Matches(labels.Set(podLabels)) {
			problems = append(problems, fmt.Sprintf("%s does not match the pod template's labels", field))
		}
	}
	return problems
}

func checkServicePorts(ports []corev1.ServicePort) []string {
	var problems []string
	if len(ports) == 0 {
		problems = append(problems, "spec.ports: at least one port")
	}
	for _, port := range ports {
		if port.Name != "" {
			for _, msg := range validation.IsDNS1123Label(port.Name) {
				problems = append(problems, fmt.Sprintf("spec.ports name %q: %s", port.Name, msg))
			}
		}
		if port.Port < 1 || port.Port > 65535 {
			problems = append(problems, fmt.Sprintf("spec.ports %q: port %d out of range", port.Name, port.Port))
		}
	}
	return problems
}

func checkPodSpec(spec *corev1.PodSpec) []string {
	var problems []string
	if len(spec.Containers) == 0 {
		problems = append(problems, "pod spec: at least one container")
	}
	volumes := map[string]bool{}
	for _, volume := range spec.Volumes {
		volumes[volume.Name] = true
		for _, msg := range validation.IsDNS1123Label(volume.Name) {
			problems = append(problems, fmt.Sprintf("volume %q: %s", volume.Name, msg))
		}
	}
	containers := append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...)
	for _, container := range containers {
		where := fmt.Sprintf("container %q", container.Name)
		for _, msg := range validation.IsDNS1123Label(container.Name) {
			problems = append(problems, fmt.Sprintf("%s: name: %s", where, msg))
		}
		if container.Image == "" {
			problems = append(problems, where+": image is required")
		}
		ports := map[string]bool{}
		for _, port := range container.Ports {
			if port.Name != "" {
				ports[port.Name] = true
				for _, msg := range validation.IsValidPortName(port.Name) {
					problems = append(problems, fmt.Sprintf("%s: port name %q: %s", where, port.Name, msg))
				}
			}
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				problems = append(problems, fmt.Sprintf("%s: containerPort: %s", where, msg))
			}
		}
		for _, env := range container.Env {
			for _, msg := range validation.IsEnvVarName(env.Name) {
				problems = append(problems, fmt.Sprintf("%s: env %q: %s", where, env.Name, msg))
			}
			if env.Value != "" && env.ValueFrom != nil {
				problems = append(problems, fmt.Sprintf("%s: env %q: value and valueFrom are exclusive", where, env.Name))
			}
		}
		for _, mount := range container.VolumeMounts {
			if !volumes[mount.Name] {
				problems = append(problems, fmt.Sprintf("%s: volumeMount %q names no volume", where, mount.Name))
			}
		}
		for name, probe := range map[string]*corev1.Probe{"livenessProbe": container.LivenessProbe, "readinessProbe": container.ReadinessProbe, "startupProbe": container.StartupProbe} {
			if probe == nil || probe.HTTPGet == nil {
				continue
			}
			port := probe.HTTPGet.Port
			if port.Type == intstr.String && !ports[port.StrVal] {
				problems = append(problems, fmt.Sprintf("%s: %s names port %q, which the container does not declare", where, name, port.StrVal))
			}
		}
	}
	sort.Strings(problems)
	return problems
}

func sortedKeys(values map[string]string) []string {
	keys := make([]string, 0, len(values))
	for key := range values {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

type located struct {
	where  string
	object runtime.Object
}

type podTemplate struct {
	kind, name string
	labels     map[string]string
	spec       *corev1.PodSpec
}

// crossCheck follows the references between the documents, as a cluster would resolve them: a
// Service, PodDisruptionBudget or NetworkPolicy must select some workload's pods, a Service's named
// target port must be declared by them, an HPA must scale a Deployment of the stream, an Ingress
// must point at a Service port of the stream and a ServiceMonitor at a Service with its port.
func crossCheck(objects []located) []string {
	var pods []podTemplate
	services := map[string]*corev1.Service{}
	deployments := map[string]bool{}
	for _, item := range objects {
		switch typed := item.object.(type) {
		case *appsv1.Deployment:
			deployments[typed.Name] = true
			pods = append(pods, podTemplate{"Deployment", typed.Name, typed.Spec.Template.Labels, &typed.Spec.Template.Spec})
		case *appsv1.StatefulSet:
			pods = append(pods, podTemplate{"StatefulSet", typed.Name, typed.Spec.Template.Labels, &typed.Spec.Template.Spec})
		case *corev1.Service:
			services[typed.Name] = typed
		}
	}
	selected := func(selector labels.Selector) []podTemplate {
		var found []podTemplate
		for _, pod := range pods {
			if selector.Matches(labels.Set(pod.labels)) {
				found = append(found, pod)
			}
		}
		return found
	}
	var problems []string
	for _, item := range objects {
		add := func(format string, args ...any) {
			problems = append(problems, item.where+": "+fmt.Sprintf(format, args...))
		}
		switch typed := item.object.(type) {
		case *corev1.Service:
			if len(typed.Spec.Selector) == 0 {
				continue
			}
			matched := selected(labels.SelectorFromSet(typed.Spec.Selector))
			if len(matched) == 0 {
				add("Service %s selects no pods of any workload here", typed.Name)
			}
			for _, port := range typed.Spec.Ports {
				if port.TargetPort.Type != intstr.String {
					continue
				}
				for _, pod := range matched {
					if !declaresPort(pod.spec, port.TargetPort.StrVal) {
						add("Service %s: targetPort %q is not a port of %s %s", typed.Name, port.TargetPort.StrVal, pod.kind, pod.name)
					}
				}
			}
		case *policyv1.PodDisruptionBudget:
			if selector, err := metav1.LabelSelectorAsSelector(typed.Spec.Selector); err == nil && len(selected(selector)) == 0 {
				add("PodDisruptionBudget %s selects no pods of any workload here", typed.Name)
			}
		case *networkingv1.NetworkPolicy:
			selector, err := metav1.LabelSelectorAsSelector(&typed.Spec.PodSelector)
			if err != nil {
				add("NetworkPolicy %s: %v", typed.Name, err)
				continue
			}
			matched := selected(selector)
			if len(matched) == 0 {
				add("NetworkPolicy %s selects no pods of any workload here", typed.Name)
			}
			for _, rule := range typed.Spec.Ingress {
				for _, port := range rule.Ports {
					if port.Port == nil || port.Port.Type != intstr.String {
						continue
					}
					for _, pod := range matched {
						if !declaresPort(pod.spec, port.Port.StrVal) {
							add("NetworkPolicy %s: port %q is not a port of %s %s", typed.Name, port.Port.StrVal, pod.kind, pod.name)
						}
					}
				}
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			target := typed.Spec.ScaleTargetRef
			if target.Kind == "Deployment" && !deployments[target.Name] {
				add("HorizontalPodAutoscaler %s scales Deployment %s, which is not here", typed.Name, target.Name)
			}
		case *networkingv1.Ingress:
			for _, rule := range typed.Spec.Rules {
				if rule.HTTP == nil {
					continue
				}
				for _, path := range rule.HTTP.Paths {
					backend := path.Backend.Service
					if backend == nil {
						continue
					}
					service, found := services[backend.Name]
					if !found {
						add("Ingress %s: backend Service %s is not here", typed.Name, backend.Name)
					} else if !servicePort(service, backend.Port.Name, backend.Port.Number) {
						add("Ingress %s: Service %s has no port %s", typed.Name, backend.Name, describePort(backend.Port))
					}
				}
			}
		case *monitoringv1.ServiceMonitor:
			selector, err := metav1.LabelSelectorAsSelector(&typed.Spec.Selector)
			if err != nil {
				add("ServiceMonitor %s: %v", typed.Name, err)
				continue
			}
			var matched []*corev1.Service
			for _, service := range services {
				if selector.Matches(labels.Set(service.Labels)) {
					matched = append(matched, service)
				}
			}
			if len(matched) == 0 {
				add("ServiceMonitor %s selects no Service here", typed.Name)
			}
			for _, endpoint := range typed.Spec.Endpoints {
				for _, service := range matched {
					if endpoint.Port != "" && !servicePort(service, endpoint.Port, 0) {
						add("ServiceMonitor %s: Service %s has no port named %q", typed.Name, service.Name, endpoint.Port)
					}
				}
			}
		}
	}
	return problems
}

func declaresPort(spec *corev1.PodSpec, name string) bool {
	for _, container := range spec.Containers {
		for _, port := range container.Ports {
			if port.Name == name {
				return true
			}
		}
	}
	return false
}

func servicePort(service *corev1.Service, name string, number int32) bool {
	for _, port := range service.Spec.Ports {
		if (name != "" && port.Name == name) || (name == "" && port.Port == number) {
			return true
		}
	}
	return false
}

func describePort(port networkingv1.ServiceBackendPort) string {
	if port.Name != "" {
		return fmt.Sprintf("named %q", port.Name)
	}
	return fmt.Sprint(port.Number)
}
