# bash completion for skyctl(8): commands, options, roles, and the modules
# that have a control socket in the run directory (/run/skyha/MODULE/ctl).
# Installed as /usr/share/bash-completion/completions/skyctl.

_skyctl_modules()
{
	local run=${SKYHA_RUN_DIR:-/run/skyha} i
	for ((i = 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} == --run-dir ]] && run=${COMP_WORDS[i + 1]}
	done
	local d
	for d in "$run"/*/ctl; do
		[[ -S $d ]] || continue
		d=${d%/ctl}
		printf '%s\n' "${d##*/}"
	done
}

_skyctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local commands="status state swap prim second stop start resync restart checkers verify wait snapshot backup help"
	local options="-m --module --run-dir --json --timeout -h --help"
	local cmd="" i
	COMPREPLY=()

	case $prev in
	-m | --module)
		mapfile -t COMPREPLY < <(compgen -W "$(_skyctl_modules)" -- "$cur")
		return
		;;
	--run-dir)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return
		;;
	--timeout)
		return
		;;
	esac
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-m | --module | --run-dir | --timeout) ((i++)) ;;
		-*) ;;
		*)
			cmd=${COMP_WORDS[i]}
			break
			;;
		esac
	done
	case $cmd in
	"")
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
		fi
		;;
	prim) mapfile -t COMPREPLY < <(compgen -W "--force --json" -- "$cur") ;;
	resync) mapfile -t COMPREPLY < <(compgen -W "--discard-local --full" -- "$cur") ;;
	checkers) mapfile -t COMPREPLY < <(compgen -W "on off" -- "$cur") ;;
	wait)
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--timeout --json" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "STOP WAIT SECOND ALONE PRIM UP serving insync resyncing degraded" -- "$cur")
		fi
		;;
	backup)
		if ((COMP_CWORD == i + 1)); then
			mapfile -t COMPREPLY < <(compgen -W "now list verify restore forget" -- "$cur")
		elif [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--json --changes --sample --keep-last --keep-daily --keep-weekly --keep-monthly --prune --dry-run --node --state-dir" -- "$cur")
		fi
		;;
	snapshot)
		case $prev in
		--output | --config) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
		--state-dir) mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
		--since) ;;
		*) mapfile -t COMPREPLY < <(compgen -W "--output --config --state-dir --since" -- "$cur") ;;
		esac
		;;
	*) mapfile -t COMPREPLY < <(compgen -W "--json" -- "$cur") ;;
	esac
}
complete -F _skyctl skyctl
