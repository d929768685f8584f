"""Drop-ins: upstream command lines (kubeseal, sops) emulated over the core; flags, exit codes and texts are upstream's."""
