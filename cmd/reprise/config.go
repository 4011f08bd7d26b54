package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/meter"
	"github.com/reprise-dev/reprise/host/seal"
)

type pflagFlag = pflag.Flag

// configKey is the flag annotation naming the configuration key a flag sets.
const configKey = "reprise.config-key"

// Configuration keys.
const (
	keyEngineKind     = "engine.kind"
	keyEngineCacheDir = "engine.cache_dir"
	keyMaxModuleBytes = "limits.max_module_bytes"
	keyMemoryPages    = "limits.memory_pages"
	keyInitFuel       = "limits.init_fuel"
	keyTransitionFuel = "limits.transition_fuel"
)

func setDefaults(v *viper.Viper) {
	v.SetDefault(keyEngineKind, string(host.EngineCompiler))
	v.SetDefault(keyEngineCacheDir, "")
	v.SetDefault(keyMaxModuleBytes, host.DefaultLimits.MaxModuleBytes)
	v.SetDefault(keyMemoryPages, host.DefaultLimits.MemoryPages)
	v.SetDefault(keyInitFuel, host.DefaultLimits.InitFuel)
	v.SetDefault(keyTransitionFuel, host.DefaultLimits.TransitionFuel)
	setServeDefaults(v)
}

// configFlag marks a flag as setting a configuration key.
func configFlag(cmd *cobra.Command, name, key string) {
	f := cmd.Flags().Lookup(name)
	if f.Annotations == nil {
		f.Annotations = map[string][]string{}
	}
	f.Annotations[configKey] = []string{key}
}

func engineConfig(v *viper.Viper) host.EngineConfig {
	return host.EngineConfig{
		Kind:     host.EngineKind(v.GetString(keyEngineKind)),
		CacheDir: v.GetString(keyEngineCacheDir),
		Limits: host.Limits{
			MaxModuleBytes: v.GetInt(keyMaxModuleBytes),
			MemoryPages:    v.GetUint32(keyMemoryPages),
			InitFuel:       v.GetUint64(keyInitFuel),
			TransitionFuel: v.GetUint64(keyTransitionFuel),
		},
	}
}

func printVersion(w io.Writer) {
	version := "(devel)"
	wazeroVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				wazeroVersion = d.Version
			}
		}
	}
	fmt.Fprintf(w, "reprise %s (%s)\nabi %d, seal v%d, fuel metering v%d, wazero %s\n",
		version, runtime.Version(), abi.Version, seal.Version, meter.Version, wazeroVersion)
}
