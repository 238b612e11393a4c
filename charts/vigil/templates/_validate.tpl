{{/*
bitnami-style validateValues: collect every impossible combination and fail rendering with all of them.

Refused:
  - no kafka.bootstrap: the chart bundles no Kafka; every service needs one.
  - no database.url and no existingSecret: the chart bundles no PostgreSQL; SQLite would be per pod.
  - database.url that is not postgresql+asyncpg://: cluster state must be shared by replicas and by the
    migration Job.
  - no clickhouse.url and no existingSecret: observability needs a ClickHouse server in cluster mode.
  - llm.baseUrl without llm.model.
  - a process's podDisruptionBudget.minAvailable >= its replicas (2 or more, so a budget is rendered): the
    budget would block every node drain.
  - more than one cmdb replica: each CMDB process keeps its own in-memory graph, kept in step only with the
    writes it makes itself (docs/cmdb.md), so a second replica would answer blast radius and ITSM conflict
    checks from a graph that misses the other's writes.
*/}}
{{- define "vigil.validateValues" -}}
{{- $messages := list }}
{{- $messages = append $messages (include "vigil.validateValues.kafka" .) }}
{{- $messages = append $messages (include "vigil.validateValues.database" .) }}
{{- $messages = append $messages (include "vigil.validateValues.clickhouse" .) }}
{{- $messages = append $messages (include "vigil.validateValues.llm" .) }}
{{- $messages = append $messages (include "vigil.validateValues.pdb" .) }}
{{- $messages = append $messages (include "vigil.validateValues.cmdb" .) }}
{{- $messages = without $messages "" }}
{{- if $messages }}
{{- printf "\nVALUES VALIDATION:\n%s" (join "\n" $messages) | fail }}
{{- end }}
{{- end }}

{{- define "vigil.validateValues.kafka" -}}
{{- if not .Values.kafka.bootstrap -}}
vigil: kafka.bootstrap
    The chart bundles no Kafka: set kafka.bootstrap to the host:port list of your Kafka cluster.
{{- end -}}
{{- end }}

{{- define "vigil.validateValues.database" -}}
{{- if and (not .Values.database.url) (not .Values.existingSecret) -}}
vigil: database.url
    The chart bundles no PostgreSQL: set database.url (postgresql+asyncpg://user:pass@host:5432/vigil)
    or existingSecret with the key database-url.
{{- else if and .Values.database.url (not (hasPrefix "postgresql+asyncpg://" .Values.database.url)) -}}
vigil: database.url
    In a cluster the state must be shared by every replica and the migration Job: database.url must be a
    postgresql+asyncpg:// URL (SQLite is for `vigil up` on one machine).
{{- end -}}
{{- end }}

{{- define "vigil.validateValues.clickhouse" -}}
{{- if and (not .Values.clickhouse.url) (not .Values.existingSecret) -}}
vigil: clickhouse.url
    The observability service needs a ClickHouse server: set clickhouse.url
    (http://user:pass@clickhouse:8123/vigil) or existingSecret with the key clickhouse-url.
{{- end -}}
{{- end }}

{{- define "vigil.validateValues.llm" -}}
{{- if and .Values.llm.baseUrl (not .Values.llm.model) -}}
vigil: llm.model
    llm.baseUrl is set but llm.model is empty: name the model to ask (leave both empty for deterministic RCA).
{{- end -}}
{{- end }}

{{- define "vigil.validateValues.pdb" -}}
{{- if .Values.podDisruptionBudget.enabled -}}
{{- range $name, $svc := .Values.services -}}
{{- $budget := $svc.podDisruptionBudget | default dict -}}
{{- if and (ge (int $svc.replicas) 2) (hasKey $budget "minAvailable") (ge (int $budget.minAvailable) (int $svc.replicas)) }}
vigil: services.{{ $name }}.podDisruptionBudget.minAvailable
    minAvailable {{ $budget.minAvailable }} over {{ $svc.replicas }} replicas of {{ $name }} would block every
    node drain: keep it below the replicas (or use maxUnavailable).
{{- end -}}
{{- end -}}
{{- end -}}
{{- end }}

{{- define "vigil.validateValues.cmdb" -}}
{{- if gt (int .Values.services.cmdb.replicas) 1 -}}
vigil: services.cmdb.replicas
    The CMDB runs one replica: each CMDB process keeps the dependency graph in memory and updates it only with
    its own writes, so a second replica would answer blast radius from a graph missing the other's writes.
{{- end -}}
{{- end }}
