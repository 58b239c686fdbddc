# Sourced by scripts/test and deploy/local-cluster: every tool they reuse or install is
# checked by *version*, not by presence (a machine may carry an old one: the image ships
# moto 5.2.1, which breaks multipart uploads), and what is too old is upgraded. The
# minimums are written once, here.

MIN_MOTO=5.2.5          # 5.2.1 breaks CompleteMultipartUpload and response-content-disposition
MIN_POSTGRES=13         # DROP DATABASE … WITH (FORCE)
MIN_REDIS=6.2           # streams (XADD MAXLEN ~, XREAD BLOCK)
MIN_SOX=14.4            # writes WAVE-EX with the B-format GUID for -c 4 … .amb
MIN_CURL=7.68           # --http2-prior-knowledge and --http2 over TLS, with nghttp2
MIN_OPENSSL=1.1.1       # req -addext for the test certificate
MIN_NODE=18             # playwright-core 1.65
MIN_CHROMIUM=120        # what playwright-core 1.65 drives
MIN_SYSTEMD=247         # systemd-analyze verify knows every setting the units use (ProtectProc=)
MIN_PYYAML=5.1          # check-deploy reads the cloud-init files
MIN_AIOHTTP=3.9         # scripts/crowd.py (scripts/bench-crowd)
MIN_PEBBLE=2.4          # certificateValidityPeriod (short-lived certificates for the renewal test)
MIN_PROMTOOL=2.37       # promtool test rules with humanizeDuration in annotations (Debian 12: 2.42)
MIN_ARIA2=1.35          # BitTorrent with BEP 19 web seeds, for the torrent tests
MIN_FFMPEG=4.3          # ffprobe reads the podcast MP3's duration; ffmpeg decodes it
MIN_FEEDPARSER=6.0      # the podcast feeds are read by an independent parser
MIN_OPENAPI_SPEC_VALIDATOR=0.7  # validates the API's document as OpenAPI 3.1 (with jsonschema)
MIN_TERRAFORM=1.5       # deploy/terraform's required_version (fmt only; cannot be installed here)

say() { printf '\n== %s\n' "$*"; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  say "installing $* (apt)"
  [[ $apt_updated -eq 1 ]] || { as_root apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}
# at_least HAVE MIN: true when version HAVE >= MIN (dotted numbers; an empty HAVE is too old).
at_least() { [[ -n "$1" ]] && [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }
# need NAME HAVE MIN: says what was found, and fails when it is still too old.
need() {
  if at_least "$2" "$3"; then echo "  $1 $2 (>= $3)"; else
    echo "$0: $1 ${2:-missing} is older than $3, and could not be upgraded" >&2; exit 1
  fi
}
first_version() { grep -oE '[0-9]+(\.[0-9]+)+' | head -n1; }

# The newest PostgreSQL server binaries (/usr/lib/postgresql/N/bin), installed when missing
# or too old; sets $pgbin.
ensure_postgres_server() {
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  at_least "$(basename "$(dirname "${pgbin:-/0/x}")")" $MIN_POSTGRES || {
    apt_install postgresql; pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1); }
  need postgresql-server "$(basename "$(dirname "$pgbin")")" $MIN_POSTGRES
}

redis_v() { command -v redis-server >/dev/null && redis-server --version | grep -oE 'v=[0-9.]+' | first_version; }
# The bus's TLS test (server/tests/api/bus_tls.rs) also needs both built with TLS, as
# Debian builds them: redis-cli lists --tls in its help only then. (Its whole help is read
# first: `| grep -q` closes the pipe at the first match, and under pipefail the writer's
# SIGPIPE failed the check now and then.)
redis_tls() {
  command -v redis-cli >/dev/null || return 0
  local help; help=$(redis-cli --help 2>&1 || true)
  [[ "$help" == *--tls* ]] && echo yes
}
ensure_redis() {
  { at_least "$(redis_v || true)" $MIN_REDIS && [[ -n "$(redis_tls || true)" ]]; } ||
    apt_install redis-server redis-tools
  need redis-server "$(redis_v)" $MIN_REDIS
  [[ -n "$(redis_tls || true)" ]] || { echo "$0: redis-cli without TLS" >&2; exit 1; }
  echo "  redis-cli with TLS"
}

# ensure_pip NAME VERSION_FN MIN SPEC: installs or upgrades SPEC from PyPI unless VERSION_FN
# prints a version of at least MIN, then checks it did.
ensure_pip() {
  if ! at_least "$($2)" "$3"; then
    say "installing $1 >= $3 (found: $($2))"
    python3 -m pip install -q --upgrade "$4" 2>&1 | grep -v "as the 'root' user" || true
  fi
  need "$1" "$($2)" "$3"
}

moto_v() { python3 -c 'import moto, flask; print(moto.__version__)' 2>/dev/null || true; }
ensure_moto() { ensure_pip moto moto_v "$MIN_MOTO" "moto[server]>=$MIN_MOTO"; }

feedparser_v() { python3 -c 'import feedparser; print(feedparser.__version__)' 2>/dev/null || true; }
ensure_feedparser() { ensure_pip feedparser feedparser_v "$MIN_FEEDPARSER" "feedparser>=$MIN_FEEDPARSER"; }

openapi_validator_v() { python3 -c 'import openapi_spec_validator as o, jsonschema; print(o.__version__)' 2>/dev/null || true; }
ensure_openapi_validator() { ensure_pip openapi-spec-validator openapi_validator_v "$MIN_OPENAPI_SPEC_VALIDATOR" "openapi-spec-validator>=$MIN_OPENAPI_SPEC_VALIDATOR"; }

aiohttp_v() { python3 -c 'import aiohttp; print(aiohttp.__version__)' 2>/dev/null || true; }
ensure_aiohttp() { ensure_pip aiohttp aiohttp_v "$MIN_AIOHTTP" "aiohttp>=$MIN_AIOHTTP"; }

# wait_port PORT [TRIES]: until something listens on 127.0.0.1:PORT (0.1 s a try).
wait_port() {
  for _ in $(seq "${2:-100}"); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
