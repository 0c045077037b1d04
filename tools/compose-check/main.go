// compose-check loads a Compose file with compose-go, the loader Docker Compose itself uses, and
// fails when the file is invalid or when a service other than the public ones publishes a port
// on every interface of the host. No Docker engine is needed, so the test command runs it.
//
//	compose-check [-public api] [-healthchecks api,worker|*] [-restart] docker-compose.yml
//
// Variables the file interpolates come from the environment (required ones, `${X:?…}`, must be
// set, as for `docker compose config`). Every profile is enabled, so no service escapes the check.
// A port is published on every interface when its host_ip is empty, 0.0.0.0 or ::, which is what
// "8080:8080" and "8080" mean; "127.0.0.1:8080:8080" is not. A service with network_mode: host
// shares every interface of the host, so it counts as publishing everything. Services named in
// -healthchecks must exist and have a health check that is not disabled; `*` names every
// long-running service. A service another waits for with service_completed_successfully is a job
// that runs once; every other service is long-running. With -restart, every service must set a
// restart policy, and a long-running one must restart when it crashes (not "no").
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

func main() {
	public := flag.String("public", "api", "comma-separated services allowed to publish ports on every interface")
	healthchecks := flag.String("healthchecks", "", "comma-separated services that must have a health check; * for every long-running one")
	restart := flag.Bool("restart", false, "every service must set restart, and long-running ones must restart")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: compose-check [-public api,...] [-healthchecks api,...|*] [-restart] docker-compose.yml\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	problems, summary, err := check(flag.Arg(0), list(*public), list(*healthchecks), *restart)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s is not a valid Compose file: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "%s: %d problem(s):\n", flag.Arg(0), len(problems))
		for _, problem := range problems {
			fmt.Fprintf(os.Stderr, "  - %s\n", problem)
		}
		os.Exit(1)
	}
	fmt.Println(summary)
}

func list(value string) map[string]bool {
	names := map[string]bool{}
	for _, name := range strings.Split(value, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names[name] = true
		}
	}
	return names
}

const bindAdvice = `bind it to loopback ("127.0.0.1:7233:7233") or drop it (services reach each other on the compose network)`

func check(path string, allowed, needHealthcheck map[string]bool, needRestart bool) ([]string, string, error) {
	absolute, err := filepath.Abs(path)
	if err != nil {
		return nil, "", err
	}
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(absolute),
		ConfigFiles: []types.ConfigFile{{Filename: absolute}},
		Environment: types.NewMapping(os.Environ()),
	}
	project, err := loader.LoadWithContext(context.Background(), details, func(options *loader.Options) {
		options.Profiles = []string{"*"}
		if _, named := details.Environment["COMPOSE_PROJECT_NAME"]; !named {
			options.SetProjectName(filepath.Base(filepath.Dir(absolute)), false)
		}
	})
	if err != nil {
		return nil, "", err
	}
	names := make([]string, 0, len(project.Services))
	for name := range project.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	var problems, published []string
	for _, name := range names {
		service := project.Services[name]
		if service.NetworkMode == "host" && !allowed[name] {
			problems = append(problems, fmt.Sprintf("%s: network_mode: host shares every interface of the host; use the compose network", name))
		}
		for _, port := range service.Ports {
			described := describe(port)
			published = append(published, fmt.Sprintf("%s %s", name, described))
			if everyInterface(port.HostIP) && !allowed[name] {
				problems = append(problems, fmt.Sprintf("%s: %s: %s", name, described, bindAdvice))
			}
		}
	}
	// Jobs that run once: some service waits for them to complete.
	oneShot := map[string]bool{}
	for _, service := range project.Services {
		for dependency, config := range service.DependsOn {
			if config.Condition == types.ServiceConditionCompletedSuccessfully {
				oneShot[dependency] = true
			}
		}
	}
	if needRestart {
		for _, name := range names {
			policy := project.Services[name].Restart
			switch {
			case policy == "":
				problems = append(problems, fmt.Sprintf("%s: sets no restart policy", name))
			case !oneShot[name] && policy == types.RestartPolicyNo:
				problems = append(problems, fmt.Sprintf("%s: runs for good but does not restart when it crashes (restart: %s)", name, policy))
			}
		}
	}
	if needHealthcheck["*"] {
		delete(needHealthcheck, "*")
		for _, name := range names {
			if !oneShot[name] {
				needHealthcheck[name] = true
			}
		}
	}
	wanted := make([]string, 0, len(needHealthcheck))
	for name := range needHealthcheck {
		wanted = append(wanted, name)
	}
	sort.Strings(wanted)
	for _, name := range wanted {
		service, found := project.Services[name]
		switch {
		case !found:
			problems = append(problems, fmt.Sprintf("%s: no such service, but it must have a health check", name))
		case service.HealthCheck == nil || service.HealthCheck.Disable || len(service.HealthCheck.Test) == 0 || service.HealthCheck.Test[0] == "NONE":
			problems = append(problems, fmt.Sprintf("%s: has no health check", name))
		}
	}
	summary := fmt.Sprintf("%s: valid Compose file, project %q, %d services; published: %s",
		path, project.Name, len(names), strings.Join(published, ", "))
	if len(published) == 0 {
		summary = fmt.Sprintf("%s: valid Compose file, project %q, %d services; no published ports", path, project.Name, len(names))
	}
	return problems, summary, nil
}

func everyInterface(hostIP string) bool {
	return hostIP == "" || hostIP == "0.0.0.0" || hostIP == "::" || hostIP == "[::]"
}

func describe(port types.ServicePortConfig) string {
	host := port.HostIP
	if everyInterface(host) {
		host = "every interface"
	}
	published := port.Published
	if published == "" {
		published = "a random port"
	}
	protocol := port.Protocol
	if protocol == "" {
		protocol = "tcp"
	}
	return fmt.Sprintf("container port %d/%s published on %s, %s", port.Target, protocol, host, published)
}
