package main

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// Configuration comes from three sources, in order of precedence:
//
//  1. flags on the command line;
//  2. environment variables: RAGPIPE_ and the flag's name in upper case
//     with dashes as underscores (--max-in-flight-bytes is
//     RAGPIPE_MAX_IN_FLIGHT_BYTES); lists are comma-separated;
//  3. the YAML file named by --config (env RAGPIPE_CONFIG): global flags at
//     the top level, a command's flags under its name (subcommands nested:
//     topics: {apply: {...}}), lists as YAML sequences.
//
// Every flag of every command has all three. A key of the file that names
// no flag and no command is an error that lists it.

// envName is the environment variable of a flag.
func envName(flag string) string {
	return "RAGPIPE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// loadConfigFile reads a YAML configuration file.
func loadConfigFile(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	return m, nil
}

// checkConfigKeys returns an error naming every key of m that is neither a
// flag of cmd (global flags at the top) nor one of its subcommands.
func checkConfigKeys(cmd *cobra.Command, m map[string]any, path string, top bool) []string {
	var unknown []string
	for k, v := range m {
		if sub := subcommand(cmd, k); sub != nil {
			if sm, ok := v.(map[string]any); ok {
				unknown = append(unknown, checkConfigKeys(sub, sm, path+k+".", false)...)
				continue
			}
			unknown = append(unknown, path+k+" (a command: want a mapping of its flags)")
			continue
		}
		var f *pflag.Flag
		if top {
			f = cmd.PersistentFlags().Lookup(k)
		} else {
			f = cmd.LocalNonPersistentFlags().Lookup(k)
			if f == nil {
				f = cmd.PersistentFlags().Lookup(k)
			}
		}
		if f == nil || k == "help" || k == "config" {
			unknown = append(unknown, path+k)
		}
	}
	sort.Strings(unknown)
	return unknown
}

func subcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// applySources sets every flag of cmd not given on the command line from
// the environment or, failing that, from the configuration file.
func applySources(cmd *cobra.Command, file map[string]any) error {
	// The file's values for this command: the top level, then each section
	// on the command's path, the innermost winning.
	values := map[string]any{}
	for k, v := range file {
		if _, isMap := v.(map[string]any); !isMap {
			values[k] = v
		}
	}
	var path []string
	for c := cmd; c.HasParent(); c = c.Parent() {
		path = append([]string{c.Name()}, path...)
	}
	section := file
	for _, name := range path {
		next, _ := section[name].(map[string]any)
		if next == nil {
			break
		}
		for k, v := range next {
			if _, isMap := v.(map[string]any); !isMap {
				values[k] = v
			}
		}
		section = next
	}
	var errs []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" {
			return
		}
		if env, ok := os.LookupEnv(envName(f.Name)); ok && env != "" {
			if err := setFlag(cmd, f, envValues(f, env)); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", envName(f.Name), err))
			}
			return
		}
		if v, ok := values[f.Name]; ok {
			if err := setFlag(cmd, f, fileValues(v)); err != nil {
				errs = append(errs, fmt.Sprintf("config key %s: %v", f.Name, err))
			}
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return nil
}

func isList(f *pflag.Flag) bool {
	t := f.Value.Type()
	return strings.HasSuffix(t, "Array") || strings.HasSuffix(t, "Slice")
}

func envValues(f *pflag.Flag, v string) []string {
	if isList(f) {
		return strings.Split(v, ",")
	}
	if f.Value.Type() == "bool" {
		switch strings.ToLower(v) {
		case "yes", "on":
			v = "true"
		case "no", "off":
			v = "false"
		}
	}
	return []string{v}
}

func fileValues(v any) []string {
	if list, ok := v.([]any); ok {
		out := make([]string, len(list))
		for i, x := range list {
			out[i] = fmt.Sprint(x)
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

// setFlag sets f to vals: a list flag is replaced by vals, any other takes
// the single value.
func setFlag(cmd *cobra.Command, f *pflag.Flag, vals []string) error {
	if !isList(f) && len(vals) != 1 {
		return fmt.Errorf("want one value, got %d", len(vals))
	}
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		if err := sv.Replace(vals); err != nil {
			return err
		}
		f.Changed = true
		return nil
	}
	return cmd.Flags().Set(f.Name, vals[0])
}

// secretFlag reports whether a flag holds a secret.
func secretFlag(name string) bool {
	for _, s := range []string{"password", "secret", "api-key"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return name == "token" || strings.HasSuffix(name, "-token")
}

// redact hides a secret value, and the password of a URL or DSN.
func redact(name, v string) string {
	if v == "" {
		return v
	}
	if secretFlag(name) {
		return "REDACTED"
	}
	if u, err := url.Parse(v); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
			return u.String()
		}
	}
	return v
}

// typed returns v as a YAML number or boolean when f holds one.
func typed(f *pflag.Flag, v string) any {
	switch t := f.Value.Type(); {
	case t == "bool":
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	case strings.HasPrefix(t, "float"):
		if x, err := strconv.ParseFloat(v, 64); err == nil {
			return x
		}
	}
	return v
}

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Show the effective configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "print [COMMAND...]",
		Short: "Print the effective configuration of a command (flags, env RAGPIPE_*, --config file), secrets redacted",
		Long: `Print, as YAML that --config accepts, every setting the named command (e.g.
"embed", "topics apply"; default: the global settings) would run with, after flags,
environment variables (RAGPIPE_<FLAG>) and the configuration file are combined.
Passwords, API keys and the passwords of DSNs are shown as REDACTED.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			target := root
			if len(args) > 0 {
				found, rest, err := root.Find(args)
				if err != nil || len(rest) > 0 || found == root {
					return fmt.Errorf("config print: unknown command %q", strings.Join(args, " "))
				}
				target = found
			}
			file := g.configFile
			if target != root {
				// The target's flags were not parsed: fill them from the
				// environment and the file, as running it would.
				if err := applySources(target, file); err != nil {
					return err
				}
			}
			globals := map[string]any{}
			local := map[string]any{}
			collect := func(into map[string]any) func(*pflag.Flag) {
				return func(f *pflag.Flag) {
					if f.Name == "help" || f.Name == "config" {
						return
					}
					if isList(f) {
						vals, _ := f.Value.(pflag.SliceValue)
						var list []string
						if vals != nil {
							for _, v := range vals.GetSlice() {
								list = append(list, redact(f.Name, v))
							}
						}
						into[f.Name] = list
						return
					}
					into[f.Name] = typed(f, redact(f.Name, f.Value.String()))
				}
			}
			root.PersistentFlags().VisitAll(collect(globals))
			if target != root {
				target.LocalNonPersistentFlags().VisitAll(collect(local))
			}
			out := map[string]any{}
			for k, v := range globals {
				out[k] = v
			}
			if target != root {
				section := out
				var names []string
				for c := target; c != root; c = c.Parent() {
					names = append([]string{c.Name()}, names...)
				}
				for i, n := range names {
					next := map[string]any{}
					if i == len(names)-1 {
						next = local
					}
					section[n] = next
					section = next
				}
			}
			enc := yaml.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent(2)
			if err := enc.Encode(out); err != nil {
				return err
			}
			return enc.Close()
		},
	})
	return cmd
}

// loadSources applies the environment and the configuration file to cmd's
// flags, after checking the file's keys against the whole command tree,
// and returns the file's contents (nil without a file).
func loadSources(cmd *cobra.Command, path string) (map[string]any, error) {
	var file map[string]any
	if path != "" {
		var err error
		if file, err = loadConfigFile(path); err != nil {
			return nil, err
		}
		if unknown := checkConfigKeys(cmd.Root(), file, "", true); len(unknown) > 0 {
			return nil, fmt.Errorf("--config %s: unknown keys: %s (keys are flag names, under the command they belong to)",
				path, strings.Join(slices.Compact(unknown), ", "))
		}
	}
	return file, applySources(cmd, file)
}
