#!/bin/sh
# A secret-render exec plugin (protocol 1): answers each requested id with the contents of
# $PLUGIN_DIR/<id>. Ids are plain names; values must hold no '"' or '\' (this is an example).
dir=${PLUGIN_DIR:-$(dirname "$0")/plugin-secrets}
ids=$(sed -e 's/.*"secrets":\[//' -e 's/\].*//' -e 's/[",]/ /g')
printf '{"version":1,"secrets":{'; sep=''
for id in $ids; do
  if [ -f "$dir/$id" ]; then printf '%s"%s":{"value":"%s"}' "$sep" "$id" "$(cat "$dir/$id")"
  else printf '%s"%s":{"error":"no such secret"}' "$sep" "$id"; fi; sep=','
done; printf '}}\n'
