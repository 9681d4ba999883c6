#!/usr/bin/env bash
# Real Apache Kafka 4.x (KRaft, no ZooKeeper) for ragpipe's integration tests.
#
# Kafka's jars come from Maven Central through Maven (scripts/kafka/pom.xml)
# and are cached outside the repo in ${RAGPIPE_CACHE:-$HOME/.cache/ragpipe}.
#
# Usage:
#   scripts/kafka.sh install                     resolve Kafka's jars into the cache (no-op when cached)
#   scripts/kafka.sh start DIR [--brokers N] [--secure]
#                                                fresh N-node cluster (default 1; 3 for replication tests)
#                                                in DIR; prints RAGPIPE_TEST_BROKERS=<list> on stdout and
#                                                writes the same list to DIR/bootstrap. --secure adds a
#                                                SASL_SSL listener (SCRAM-SHA-512 user "alice", PLAIN user
#                                                "bob") and an SSL listener that requires a client
#                                                certificate, with a CA and certificates made by openssl in
#                                                DIR/tls; it also prints RAGPIPE_TEST_SASL_BROKERS,
#                                                RAGPIPE_TEST_MTLS_BROKERS, RAGPIPE_TEST_TLS_DIR,
#                                                RAGPIPE_TEST_SCRAM_PASSWORD and RAGPIPE_TEST_PLAIN_PASSWORD
#   scripts/kafka.sh stop DIR                    stop every node (SIGTERM, SIGKILL after 20 s); idempotent
#   scripts/kafka.sh status DIR                  node states; exit 0 when all run, 3 otherwise
#   scripts/kafka.sh kill-node DIR I [--graceful] SIGKILL node I (1..N), or SIGTERM with --graceful
#   scripts/kafka.sh start-node DIR I            restart node I with its existing data and ports
#   scripts/kafka.sh tool CLASS [ARGS...]        run a Kafka CLI class from the cached jars, e.g.
#                                                org.apache.kafka.tools.TopicCommand --bootstrap-server ...
#   scripts/kafka.sh libs                        print the cached libs directory
#
# Environment:
#   RAGPIPE_CACHE                 cache root (default $HOME/.cache/ragpipe)
#   RAGPIPE_KAFKA_VERSION         Kafka version (default 4.4.0; needs Java 17+)
#   RAGPIPE_KAFKA_START_TIMEOUT   seconds to wait for a cluster/node to be ready (default 90)
#   RAGPIPE_KAFKA_STOP_TIMEOUT    seconds between SIGTERM and SIGKILL (default 20)
#   RAGPIPE_KAFKA_HEAP_OPTS       broker heap flags (default "-Xms256m -Xmx768m")
#   RAGPIPE_KAFKA_JVM_OPTS        extra broker JVM flags
#   JAVA_HOME                     Java 17+ to use (else `java` on PATH)
#
# Layout of DIR: cluster.env, bootstrap, nodeI/{server.properties,log4j2.properties,
# server.log,stdout.log,format.log,kafka.pid,data/}.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
readonly SCRIPT_DIR
readonly POM="$SCRIPT_DIR/kafka/pom.xml"
readonly BROKER_LOG4J="$SCRIPT_DIR/kafka/log4j2.properties"
readonly TOOLS_LOG4J="$SCRIPT_DIR/kafka/tools-log4j2.properties"
readonly CACHE_ROOT="${RAGPIPE_CACHE:-$HOME/.cache/ragpipe}"
readonly START_TIMEOUT="${RAGPIPE_KAFKA_START_TIMEOUT:-90}"
readonly STOP_TIMEOUT="${RAGPIPE_KAFKA_STOP_TIMEOUT:-20}"
readonly HEAP_OPTS="${RAGPIPE_KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"

KAFKA_VERSION="${RAGPIPE_KAFKA_VERSION:-4.4.0}"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() {
	printf 'kafka.sh: error: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
}

kafka_home() { printf '%s/kafka-%s' "$CACHE_ROOT" "$KAFKA_VERSION"; }
libs_dir() { printf '%s/libs' "$(kafka_home)"; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH ($2)"; }

JAVA=""
find_java() {
	[[ -n "$JAVA" ]] && return 0
	if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
		JAVA="$JAVA_HOME/bin/java"
	else
		need java "install a JDK/JRE 17+ or set JAVA_HOME"
		JAVA=$(command -v java)
	fi
	local spec
	spec=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n1)
	[[ "$spec" =~ ^[0-9]+$ ]] || die "cannot tell the Java version of $JAVA"
	((spec >= 17)) || die "Kafka $KAFKA_VERSION brokers need Java 17+, $JAVA is Java $spec"
}

# ---------------------------------------------------------------- install

install_fingerprint() {
	local sum
	sum=$(sha256sum "$POM" | cut -d' ' -f1)
	printf 'kafka=%s pom=%s\n' "$KAFKA_VERSION" "$sum"
}

is_installed() {
	local home
	home=$(kafka_home)
	[[ -f "$home/.installed" && -d "$home/libs" ]] &&
		[[ "$(cat "$home/.installed")" == "$(install_fingerprint)" ]] &&
		[[ -f "$home/libs/kafka_2.13-$KAFKA_VERSION.jar" ]]
}

cmd_install() {
	[[ -f "$POM" ]] || die "missing $POM"
	if is_installed; then
		log "Kafka $KAFKA_VERSION already installed in $(libs_dir)"
		return 0
	fi
	need mvn "install Maven 3.8+"
	local home tmp
	home=$(kafka_home)
	mkdir -p "$home"
	# Serialise concurrent installs of the same version.
	exec 9>"$home/.lock"
	if command -v flock >/dev/null 2>&1; then
		flock 9
		if is_installed; then
			exec 9>&-
			log "Kafka $KAFKA_VERSION already installed in $(libs_dir)"
			return 0
		fi
	fi
	log "installing Kafka $KAFKA_VERSION from Maven Central into $home/libs"
	tmp="$home/libs.tmp.$$"
	rm -rf "$tmp"
	if ! mvn -B -q -Dstyle.color=never -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
		dependency:copy-dependencies -DoutputDirectory="$tmp" >&2; then
		rm -rf "$tmp"
		die "mvn could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (see above)"
	fi
	[[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || {
		rm -rf "$tmp"
		die "mvn finished but kafka_2.13-$KAFKA_VERSION.jar is missing"
	}
	rm -rf "$home/libs"
	mv "$tmp" "$home/libs"
	install_fingerprint >"$home/.installed"
	exec 9>&-
	log "installed $(find "$home/libs" -name '*.jar' | wc -l) jars"
}

# ---------------------------------------------------------------- helpers

# free_ports N: N distinct free TCP ports on 127.0.0.1, space separated.
free_ports() {
	need python3 "used to pick free ports"
	python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

# A Kafka Uuid in its base64 form (never starting with '-', like Uuid.randomUuid).
new_cluster_id() {
	python3 - <<'PY'
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break
PY
}

# probe_metadata EXPECTED PORT...: exit 0 when every port answers a Metadata
# request (v4) listing at least EXPECTED live brokers.
probe_metadata() {
	python3 - "$@" <<'PY'
import socket, struct, sys

def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("connection closed")
        b += c
    return b

def brokers(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.settimeout(3)
        cid = b"ragpipe-kafka-sh"
        # header v1: api_key=3 (Metadata), api_version=4, correlation_id, client_id
        # body v4: topics=null (-1), allow_auto_topic_creation=false
        req = struct.pack(">hhih", 3, 4, 7, len(cid)) + cid + struct.pack(">ib", -1, 0)
        s.sendall(struct.pack(">i", len(req)) + req)
        (n,) = struct.unpack(">i", recvn(s, 4))
        data = recvn(s, n)
        corr, _throttle, count = struct.unpack(">iii", data[:12])
        if corr != 7:
            raise ValueError("bad correlation id")
        return count

want = int(sys.argv[1])
for p in sys.argv[2:]:
    try:
        got = brokers(int(p))
    except Exception as e:  # not ready yet
        print(f"port {p}: {e}", file=sys.stderr)
        sys.exit(1)
    if got < want:
        print(f"port {p}: {got}/{want} brokers live", file=sys.stderr)
        sys.exit(1)
PY
}

# abs_dir DIR: absolute path of DIR (created if needed).
abs_dir() {
	mkdir -p -- "$1"
	(cd -- "$1" && pwd -P)
}

node_dir() { printf '%s/node%s' "$DIR" "$1"; }

# pid_of I: pid of node I if it is running (checked against its command line).
pid_of() {
	local nd pidfile pid cmdline
	nd=$(node_dir "$1")
	pidfile="$nd/kafka.pid"
	[[ -f "$pidfile" ]] || return 1
	pid=$(cat "$pidfile" 2>/dev/null) || return 1
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	if [[ -r "/proc/$pid/cmdline" ]]; then
		cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	else
		cmdline=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
	fi
	[[ "$cmdline" == *"kafka.Kafka $nd/server.properties"* ]] || return 1
	printf '%s\n' "$pid"
}

load_cluster() {
	local d="$1"
	[[ -d "$d" ]] || die "$d does not exist (run: $0 start $d)"
	DIR=$(cd -- "$d" && pwd -P)
	[[ -f "$DIR/cluster.env" ]] || die "$DIR holds no cluster started by kafka.sh (no cluster.env)"
	local key value
	while IFS='=' read -r key value; do
		case "$key" in
		KAFKA_VERSION) KAFKA_VERSION="$value" ;;
		NODES) NODES="$value" ;;
		CLUSTER_ID) CLUSTER_ID="$value" ;;
		BROKER_PORTS) read -r -a BROKER_PORTS <<<"$value" ;;
		CONTROLLER_PORTS) read -r -a CONTROLLER_PORTS <<<"$value" ;;
		SECURE) SECURE="$value" ;;
		SASL_PORTS) read -r -a SASL_PORTS <<<"$value" ;;
		MTLS_PORTS) read -r -a MTLS_PORTS <<<"$value" ;;
		SCRAM_PASSWORD) SCRAM_PASSWORD="$value" ;;
		PLAIN_PASSWORD) PLAIN_PASSWORD="$value" ;;
		esac
	done <"$DIR/cluster.env"
	[[ "${NODES:-}" =~ ^[0-9]+$ && ${#BROKER_PORTS[@]} -eq "$NODES" ]] || die "$DIR/cluster.env is damaged"
}

check_node_arg() {
	if ! [[ "$1" =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > NODES)); then
		die "node must be 1..$NODES, got '$1'"
	fi
}

# bootstrap_list [PORTS_ARRAY_NAME]: host:port list of BROKER_PORTS (or the named array).
bootstrap_list() {
	local -n bl_ports="${1:-BROKER_PORTS}"
	local i out=""
	for ((i = 0; i < NODES; i++)); do
		out+="${out:+,}127.0.0.1:${bl_ports[i]}"
	done
	printf '%s' "$out"
}

SECURE=0

# make_tls DIR: a CA, a broker certificate for 127.0.0.1/localhost, a client
# certificate, and an unrelated CA (for wrong-CA tests), all PEM, in DIR.
make_tls() {
	local t="$1"
	need openssl "used to make test certificates for --secure"
	mkdir -p "$t"
	(
		cd "$t" || exit 1
		set -e
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=ragpipe-test-ca"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj "/CN=ragpipe-other-ca"
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
		openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext
		openssl pkcs8 -topk8 -nocrypt -in server.key -out server.p8
		cat server.p8 server.crt >server-keystore.pem
		openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=ragpipe-client"
		openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.crt -days 2
	) >"$t/openssl.log" 2>&1 || die "openssl failed (see $t/openssl.log)"
}

random_secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(18))'; }

write_server_properties() {
	local i="$1" nd voters="" j rf isr secure_listeners=""
	nd=$(node_dir "$i")
	if ((SECURE)); then
		secure_listeners=",SASL_SSL://127.0.0.1:${SASL_PORTS[i - 1]},SSL://127.0.0.1:${MTLS_PORTS[i - 1]}"
	fi
	for ((j = 1; j <= NODES; j++)); do
		voters+="${voters:+,}$j@127.0.0.1:${CONTROLLER_PORTS[j - 1]}"
	done
	rf=$((NODES < 3 ? NODES : 3))
	isr=$((rf >= 3 ? 2 : 1))
	cat >"$nd/server.properties" <<EOF
# Generated by scripts/kafka.sh for ragpipe integration tests. KRaft combined mode.
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${BROKER_PORTS[i - 1]},CONTROLLER://127.0.0.1:${CONTROLLER_PORTS[i - 1]}$secure_listeners
advertised.listeners=PLAINTEXT://127.0.0.1:${BROKER_PORTS[i - 1]}$secure_listeners
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$nd/data

# small machine
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.dedupe.buffer.size=16777216

# test friendly
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
log.segment.bytes=16777216
log.retention.check.interval.ms=60000
# notice dead nodes (and let a restarted one re-register) sooner than the 9 s default
broker.session.timeout.ms=6000
broker.heartbeat.interval.ms=1000
EOF
	if ((SECURE)); then
		cat >>"$nd/server.properties" <<EOF

# --secure: SASL_SSL (SCRAM-SHA-512, PLAIN) and SSL with client certificates
ssl.keystore.type=PEM
ssl.keystore.location=$DIR/tls/server-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$DIR/tls/ca.pem
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_bob="$PLAIN_PASSWORD";
EOF
	fi
	cp "$BROKER_LOG4J" "$nd/log4j2.properties"
}

jvm_opts_broker() {
	local nd="$1"
	# shellcheck disable=SC2206 # word splitting of user-supplied flag lists is intended
	BROKER_JVM=($HEAP_OPTS -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError
		-Djava.awt.headless=true
		"-Dkafka.logs.dir=$nd" "-Dlog4j2.configurationFile=$nd/log4j2.properties"
		${RAGPIPE_KAFKA_JVM_OPTS:-})
}

# Short-lived CLI JVMs (format, tools): small heap and fast start-up.
TOOL_JVM=(-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)

format_node() {
	local i="$1" nd
	nd=$(node_dir "$i")
	local -a scram=()
	if ((SECURE)); then
		scram=(--add-scram "SCRAM-SHA-512=[name=alice,password=$SCRAM_PASSWORD]")
	fi
	"$JAVA" "${TOOL_JVM[@]}" "-Dlog4j2.configurationFile=$TOOLS_LOG4J" -cp "$(libs_dir)/*" \
		kafka.tools.StorageTool format --cluster-id "$CLUSTER_ID" --config "$nd/server.properties" "${scram[@]}" \
		>"$nd/format.log" 2>&1
}

# launch_node I: start node I in the background (own session, so it outlives
# this script and its caller's process group); its pid goes to nodeI/kafka.pid.
launch_node() {
	local i="$1" nd
	nd=$(node_dir "$i")
	jvm_opts_broker "$nd"
	rm -f "$nd/kafka.pid"
	# shellcheck disable=SC2016 # $$ and $1 expand in the child shell
	setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$nd/kafka.pid" \
		"$JAVA" "${BROKER_JVM[@]}" -cp "$(libs_dir)/*" kafka.Kafka "$nd/server.properties" \
		>>"$nd/stdout.log" 2>&1 </dev/null &
	local t
	for ((t = 0; t < 100; t++)); do
		[[ -s "$nd/kafka.pid" ]] && return 0
		sleep 0.05
	done
	die "node $i did not start (no pid file)"
}

log_size() {
	local f
	f="$(node_dir "$1")/server.log"
	if [[ -f "$f" ]]; then wc -c <"$f"; else echo 0; fi
}

# started_since I OFFSET: node I logged "Kafka Server started" after OFFSET bytes.
started_since() {
	local f
	f="$(node_dir "$1")/server.log"
	[[ -f "$f" ]] && tail -c +"$(($2 + 1))" "$f" | grep -q 'Kafka Server started'
}

dump_logs() {
	local i nd f
	for i in "$@"; do
		nd=$(node_dir "$i")
		for f in format.log stdout.log server.log; do
			[[ -s "$nd/$f" ]] || continue
			printf '\n===== node %s: %s (last 40 lines) =====\n' "$i" "$nd/$f" >&2
			tail -n 40 "$nd/$f" >&2
		done
	done
}

# wait_ready OFFSETS NODE...: wait until each NODE logged its start after its
# offset (OFFSETS is an assoc array name) and every running node's port serves
# metadata with all running brokers live.
wait_ready() {
	local -n offs="$1"
	shift
	local deadline i ok running ports
	deadline=$((SECONDS + START_TIMEOUT))
	while ((SECONDS < deadline)); do
		ok=1
		for i in "$@"; do
			pid_of "$i" >/dev/null || {
				log "node $i exited during start-up"
				return 1
			}
			started_since "$i" "${offs[$i]}" || ok=0
		done
		if ((ok)); then
			running=0
			ports=()
			for ((i = 1; i <= NODES; i++)); do
				if pid_of "$i" >/dev/null; then
					running=$((running + 1))
					ports+=("${BROKER_PORTS[i - 1]}")
				fi
			done
			probe_metadata "$running" "${ports[@]}" 2>/dev/null && return 0
		fi
		sleep 0.5
	done
	log "timed out after ${START_TIMEOUT}s waiting for node(s) $* to be ready"
	return 1
}

# signal_and_wait SIG NODE...: send SIG to the running nodes, wait up to
# STOP_TIMEOUT s, then SIGKILL what is left.
signal_and_wait() {
	local sig="$1" i pid deadline left
	shift
	local -a nodes=()
	for i in "$@"; do
		if pid=$(pid_of "$i"); then
			kill "-$sig" "$pid" 2>/dev/null || true
			nodes+=("$i")
		fi
	done
	((${#nodes[@]})) || return 0
	deadline=$((SECONDS + STOP_TIMEOUT))
	while :; do
		left=()
		for i in "${nodes[@]}"; do
			pid_of "$i" >/dev/null && left+=("$i")
		done
		((${#left[@]})) || break
		if ((SECONDS >= deadline)); then
			[[ "$sig" == KILL ]] && die "node(s) ${left[*]} survived SIGKILL"
			log "node(s) ${left[*]} still running after ${STOP_TIMEOUT}s; sending SIGKILL"
			for i in "${left[@]}"; do
				if pid=$(pid_of "$i"); then kill -KILL "$pid" 2>/dev/null || true; fi
			done
			sig=KILL
			deadline=$((SECONDS + 10))
		fi
		sleep 0.2
	done
	for i in "${nodes[@]}"; do
		rm -f "$(node_dir "$i")/kafka.pid"
	done
}

# ---------------------------------------------------------------- commands

cmd_start() {
	local d="" n=1
	while (($#)); do
		case "$1" in
		--brokers) (($# >= 2)) || die "--brokers needs a value"; n="$2"; shift 2 ;;
		--brokers=*) n="${1#*=}"; shift ;;
		--secure) SECURE=1; shift ;;
		-h | --help) usage; exit 0 ;;
		-*) die "unknown option $1" ;;
		*) [[ -z "$d" ]] || die "start takes one DIR"; d="$1"; shift ;;
		esac
	done
	[[ -n "$d" ]] || die "usage: $0 start DIR [--brokers N]"
	[[ "$n" =~ ^[1-9]$ ]] || die "--brokers must be 1..9 (1 or 3 are the tested sizes), got '$n'"
	NODES="$n"
	DIR=$(abs_dir "$d")

	# Refuse to clobber a running cluster; clear a stopped one.
	if [[ -f "$DIR/cluster.env" ]]; then
		local prev
		prev=$(sed -n 's/^NODES=//p' "$DIR/cluster.env")
		if [[ "$prev" =~ ^[0-9]+$ ]]; then
			local j
			for ((j = 1; j <= prev; j++)); do
				pid_of "$j" >/dev/null && die "a cluster is already running in $DIR (run: $0 stop $DIR)"
			done
		fi
	fi
	rm -rf -- "$DIR"/node[0-9]* "$DIR/bootstrap" "$DIR/cluster.env"

	find_java
	cmd_install
	need python3 "used to pick ports and probe the brokers"

	local ports i t0
	t0=$SECONDS
	read -r -a ports <<<"$(free_ports $((4 * NODES)))"
	BROKER_PORTS=("${ports[@]:0:NODES}")
	CONTROLLER_PORTS=("${ports[@]:NODES:NODES}")
	SASL_PORTS=("${ports[@]:2*NODES:NODES}")
	MTLS_PORTS=("${ports[@]:3*NODES:NODES}")
	CLUSTER_ID=$(new_cluster_id)
	if ((SECURE)); then
		rm -rf -- "$DIR/tls"
		make_tls "$DIR/tls"
		SCRAM_PASSWORD=$(random_secret)
		PLAIN_PASSWORD=$(random_secret)
	fi
	{
		printf 'KAFKA_VERSION=%s\n' "$KAFKA_VERSION"
		printf 'NODES=%s\n' "$NODES"
		printf 'CLUSTER_ID=%s\n' "$CLUSTER_ID"
		printf 'BROKER_PORTS=%s\n' "${BROKER_PORTS[*]}"
		printf 'CONTROLLER_PORTS=%s\n' "${CONTROLLER_PORTS[*]}"
		if ((SECURE)); then
			printf 'SECURE=1\n'
			printf 'SASL_PORTS=%s\n' "${SASL_PORTS[*]}"
			printf 'MTLS_PORTS=%s\n' "${MTLS_PORTS[*]}"
			printf 'SCRAM_PASSWORD=%s\n' "$SCRAM_PASSWORD"
			printf 'PLAIN_PASSWORD=%s\n' "$PLAIN_PASSWORD"
		fi
	} >"$DIR/cluster.env"
	chmod 600 "$DIR/cluster.env"

	ALL_NODES=()
	for ((i = 1; i <= NODES; i++)); do
		mkdir -p "$(node_dir "$i")/data"
		write_server_properties "$i"
		ALL_NODES+=("$i")
	done

	# Format all nodes' storage in parallel.
	local -a fpids=()
	for i in "${ALL_NODES[@]}"; do
		format_node "$i" &
		fpids+=("$!")
	done
	local failed=0
	for i in "${!fpids[@]}"; do
		wait "${fpids[i]}" || { log "formatting node $((i + 1)) failed"; failed=1; }
	done
	if ((failed)); then
		dump_logs "${ALL_NODES[@]}"
		die "could not format KRaft storage in $DIR"
	fi

	# From here on, a failure stops whatever was started.
	trap 'rc=$?; if ((rc != 0)); then dump_logs "${ALL_NODES[@]}"; log "stopping nodes after failed start"; signal_and_wait TERM "${ALL_NODES[@]}" || true; fi' EXIT
	log "starting Kafka $KAFKA_VERSION: $NODES node(s) in $DIR"
	local -A offsets=()
	for i in "${ALL_NODES[@]}"; do
		offsets[$i]=0
		launch_node "$i"
	done
	wait_ready offsets "${ALL_NODES[@]}" || die "Kafka did not start in $DIR (logs above)"
	trap - EXIT

	local list
	list=$(bootstrap_list)
	printf '%s\n' "$list" >"$DIR/bootstrap"
	log "cluster ready in $((SECONDS - t0))s: $list"
	printf 'RAGPIPE_TEST_BROKERS=%s\n' "$list"
	if ((SECURE)); then
		printf 'RAGPIPE_TEST_SASL_BROKERS=%s\n' "$(bootstrap_list SASL_PORTS)"
		printf 'RAGPIPE_TEST_MTLS_BROKERS=%s\n' "$(bootstrap_list MTLS_PORTS)"
		printf 'RAGPIPE_TEST_TLS_DIR=%s\n' "$DIR/tls"
		printf 'RAGPIPE_TEST_SCRAM_PASSWORD=%s\n' "$SCRAM_PASSWORD"
		printf 'RAGPIPE_TEST_PLAIN_PASSWORD=%s\n' "$PLAIN_PASSWORD"
	fi
}

cmd_stop() {
	(($# == 1)) || die "usage: $0 stop DIR"
	if [[ ! -f "$1/cluster.env" ]]; then
		log "no cluster in $1; nothing to stop"
		return 0
	fi
	load_cluster "$1"
	local -a all=()
	local i
	for ((i = 1; i <= NODES; i++)); do all+=("$i"); done
	signal_and_wait TERM "${all[@]}"
	log "stopped cluster in $DIR"
}

cmd_status() {
	(($# == 1)) || die "usage: $0 status DIR"
	load_cluster "$1"
	local i pid up=0
	printf 'kafka %s, %s node(s), cluster id %s, dir %s\n' "$KAFKA_VERSION" "$NODES" "$CLUSTER_ID" "$DIR"
	for ((i = 1; i <= NODES; i++)); do
		if pid=$(pid_of "$i"); then
			up=$((up + 1))
			printf 'node %s: running pid %s broker 127.0.0.1:%s controller 127.0.0.1:%s\n' \
				"$i" "$pid" "${BROKER_PORTS[i - 1]}" "${CONTROLLER_PORTS[i - 1]}"
		else
			printf 'node %s: stopped         broker 127.0.0.1:%s controller 127.0.0.1:%s\n' \
				"$i" "${BROKER_PORTS[i - 1]}" "${CONTROLLER_PORTS[i - 1]}"
		fi
	done
	printf 'bootstrap: %s\n' "$(bootstrap_list)"
	((up == NODES)) || exit 3
}

cmd_kill_node() {
	local d="" i="" sig=KILL
	while (($#)); do
		case "$1" in
		--graceful) sig=TERM; shift ;;
		-*) die "unknown option $1" ;;
		*) if [[ -z "$d" ]]; then d="$1"; elif [[ -z "$i" ]]; then i="$1"; else die "too many arguments"; fi; shift ;;
		esac
	done
	[[ -n "$d" && -n "$i" ]] || die "usage: $0 kill-node DIR I [--graceful]"
	load_cluster "$d"
	check_node_arg "$i"
	if ! pid_of "$i" >/dev/null; then
		log "node $i is not running"
		return 0
	fi
	signal_and_wait "$sig" "$i"
	log "node $i stopped (SIG$sig)"
}

cmd_start_node() {
	(($# == 2)) || die "usage: $0 start-node DIR I"
	load_cluster "$1"
	check_node_arg "$2"
	local i="$2" t0=$SECONDS
	if pid_of "$i" >/dev/null; then
		log "node $i is already running"
		return 0
	fi
	find_java
	cmd_install
	need python3 "used to probe the brokers"
	# shellcheck disable=SC2034 # read through a nameref in wait_ready
	local -A offsets=([$i]="$(log_size "$i")")
	log "starting node $i of $DIR"
	launch_node "$i"
	if ! wait_ready offsets "$i"; then
		dump_logs "$i"
		signal_and_wait TERM "$i" || true
		die "node $i did not come back"
	fi
	log "node $i ready in $((SECONDS - t0))s"
}

cmd_tool() {
	(($# >= 1)) || die "usage: $0 tool CLASS [ARGS...]"
	find_java
	is_installed || cmd_install
	exec "$JAVA" "${TOOL_JVM[@]}" "-Dlog4j2.configurationFile=$TOOLS_LOG4J" -cp "$(libs_dir)/*" "$@"
}

main() {
	local cmd="${1:-}"
	(($#)) && shift
	case "$cmd" in
	install) (($# == 0)) || die "install takes no arguments"; cmd_install ;;
	start) cmd_start "$@" ;;
	stop) cmd_stop "$@" ;;
	status) cmd_status "$@" ;;
	kill-node) cmd_kill_node "$@" ;;
	start-node) cmd_start_node "$@" ;;
	tool) cmd_tool "$@" ;;
	libs) is_installed || die "Kafka $KAFKA_VERSION is not installed (run: $0 install)"; libs_dir; echo ;;
	-h | --help | help) usage ;;
	"") usage; exit 2 ;;
	*) usage; die "unknown command '$cmd'" ;;
	esac
}

main "$@"
