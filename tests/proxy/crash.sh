#!/bin/bash
# Audit under load and after kill -9: the chain verifies, and every request
# that got an answer has its decision line.  Then the proxy restarts on the
# same file and extends the same chain.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
start_origin || exit 1
O=127.0.0.1:$ORIGIN_PORT
start_proxy --allow "GET 127.0.0.1:$ORIGIN_PORT/ok/*" || exit 1
cat >"$T_TMP/load.py" <<'PY'
import http.client, sys, threading
proxy_port, origin, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock(); f = open(out, "w", buffering=1)
def worker(t):
    i = 0
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=5)
            while True:
                i += 1
                path = "/ok/t%d-r%d" % (t, i)
                deny = i % 7 == 0
                if deny: path = "/no/t%d-r%d" % (t, i)
                c.request("GET", "http://%s%s" % (origin, path))
                r = c.getresponse(); r.read()
                with lock: f.write("%s %d\n" % (path, r.status))
        except Exception:
            return
ts = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
PY
python3 "$T_TMP/load.py" "$PROXY_PORT" "$O" "$T_TMP/answered" &
LOAD=$!
sleep 2
kill -9 "$PROXY_PID"
wait "$LOAD"
n=$(wc -l <"$T_TMP/answered")
t_match "load answered requests before the crash" "^[1-9][0-9]{2,}$" "$n"
t_ok "chain verifies after kill -9" "$PROXY" audit-verify "$AUDIT"
missing=0
while read -r path st; do
  v=allow; [ "$st" = 403 ] && v=deny
  grep -qF "\"path\":\"$path\",\"rule\"" "$AUDIT" || { missing=$((missing+1)); echo "    no line for $path $st"; }
done <"$T_TMP/answered"
t_eq "every answered request has its decision line ($n)" 0 "$missing"
denied=$(grep -c ' 403$' "$T_TMP/answered")
t_eq "every 403 has a deny line" "$denied" "$(grep -c '"path":"/no/t.*"verdict":"deny"' "$AUDIT")"

before=$(wc -l <"$AUDIT")
start_proxy --allow "GET 127.0.0.1:$ORIGIN_PORT/ok/*" || exit 1
t_eq "restarted proxy serves" 200 "$(code http://$O/ok/after)"
kill "$PROXY_PID"; sleep 0.3
t_eq "restart extended the file" 1 "$(( $(wc -l <"$AUDIT") > before ))"
t_ok "chain verifies across the restart" "$PROXY" audit-verify "$AUDIT"
t_done
