# SPDX-License-Identifier: MIT
"""kubesim: the fields of the built-in kinds, as OpenAPI v3 schemas (k8s.io/api
types, abridged). They stand for decoding a request body into the Go struct: fields a
struct does not have are dropped (and reported for fieldValidation), and they are
published under /openapi/v3 so kubectl finds the kinds there.

A struct listed here is closed: every field of the real type must be listed, or a
request using it loses the field. Structs not modelled field by field are OPEN
(x-kubernetes-preserve-unknown-fields) and accept anything below them; kinds without a
schema here are never pruned (docs/simulators.md, known deviations)."""

S = {"type": "string"}
I32 = {"type": "integer", "format": "int32"}
I64 = {"type": "integer", "format": "int64"}
B = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
QTY = {"x-kubernetes-int-or-string": True}
INT_OR_STR = {"x-kubernetes-int-or-string": True}
OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def obj(**props):
    return {"type": "object", "properties": props}


def arr(items, key=None, strategy=None):
    a = {"type": "array", "items": items}
    if key:
        a["x-kubernetes-patch-merge-key"] = key
        a["x-kubernetes-patch-strategy"] = strategy or "merge"
    elif strategy:
        a["x-kubernetes-patch-strategy"] = strategy
    return a


def smap(v=S):
    return {"type": "object", "additionalProperties": v}


OWNER_REF = obj(apiVersion=S, kind=S, name=S, uid=S, controller=B, blockOwnerDeletion=B)
MANAGED_FIELDS = obj(manager=S, operation=S, apiVersion=S, time=TIME, fieldsType=S, fieldsV1=OPEN, subresource=S)
OBJECT_META = obj(name=S, generateName=S, namespace=S, selfLink=S, uid=S, resourceVersion=S, generation=I64,
                  creationTimestamp=TIME, deletionTimestamp=TIME, deletionGracePeriodSeconds=I64,
                  labels=smap(), annotations=smap(), ownerReferences=arr(OWNER_REF, "uid"),
                  finalizers=arr(S, strategy="merge"), managedFields=arr(MANAGED_FIELDS))
LABEL_SELECTOR = obj(matchLabels=smap(), matchExpressions=arr(obj(key=S, operator=S, values=arr(S))))
RESOURCES = obj(limits=smap(QTY), requests=smap(QTY), claims=arr(obj(name=S, request=S), "name"))
KEY_REF = obj(name=S, key=S, optional=B)
ENV_SOURCE = obj(fieldRef=obj(apiVersion=S, fieldPath=S),
                 resourceFieldRef=obj(containerName=S, resource=S, divisor=QTY),
                 configMapKeyRef=KEY_REF, secretKeyRef=KEY_REF)
ENV = obj(name=S, value=S, valueFrom=ENV_SOURCE)
ENV_FROM = obj(prefix=S, configMapRef=obj(name=S, optional=B), secretRef=obj(name=S, optional=B))
HTTP_GET = obj(path=S, port=INT_OR_STR, host=S, scheme=S, httpHeaders=arr(obj(name=S, value=S)))
HANDLER = dict(exec=obj(command=arr(S)), httpGet=HTTP_GET, tcpSocket=obj(port=INT_OR_STR, host=S),
               grpc=obj(port=I32, service=S))
PROBE = obj(initialDelaySeconds=I32, timeoutSeconds=I32, periodSeconds=I32, successThreshold=I32,
            failureThreshold=I32, terminationGracePeriodSeconds=I64, **HANDLER)
LIFECYCLE_HANDLER = obj(sleep=obj(seconds=I64), **{k: v for k, v in HANDLER.items() if k != "grpc"})
CAPS = obj(add=arr(S), drop=arr(S))
SE_LINUX = obj(user=S, role=S, type=S, level=S)
SECCOMP = obj(type=S, localhostProfile=S)
APPARMOR = obj(type=S, localhostProfile=S)
WINDOWS = obj(gmsaCredentialSpecName=S, gmsaCredentialSpec=S, runAsUserName=S, hostProcess=B)
SECURITY_CONTEXT = obj(capabilities=CAPS, privileged=B, seLinuxOptions=SE_LINUX, windowsOptions=WINDOWS,
                       runAsUser=I64, runAsGroup=I64, runAsNonRoot=B, readOnlyRootFilesystem=B,
                       allowPrivilegeEscalation=B, procMount=S, seccompProfile=SECCOMP, appArmorProfile=APPARMOR)
CONTAINER = obj(
    name=S, image=S, command=arr(S), args=arr(S), workingDir=S,
    ports=arr(obj(name=S, hostPort=I32, containerPort=I32, protocol=S, hostIP=S), "containerPort"),
    envFrom=arr(ENV_FROM), env=arr(ENV, "name"), resources=RESOURCES,
    resizePolicy=arr(obj(resourceName=S, restartPolicy=S)), restartPolicy=S,
    volumeMounts=arr(obj(name=S, readOnly=B, recursiveReadOnly=S, mountPath=S, subPath=S, mountPropagation=S,
                         subPathExpr=S), "mountPath"),
    volumeDevices=arr(obj(name=S, devicePath=S), "devicePath"),
    livenessProbe=PROBE, readinessProbe=PROBE, startupProbe=PROBE,
    lifecycle=obj(postStart=LIFECYCLE_HANDLER, preStop=LIFECYCLE_HANDLER, stopSignal=S),
    terminationMessagePath=S, terminationMessagePolicy=S, imagePullPolicy=S, securityContext=SECURITY_CONTEXT,
    stdin=B, stdinOnce=B, tty=B)
EPHEMERAL = dict(CONTAINER, properties=dict(CONTAINER["properties"], targetContainerName=S))
TOLERATION = obj(key=S, operator=S, value=S, effect=S, tolerationSeconds=I64)
VOLUME = {"type": "object", "properties": {
    "name": S, **{k: OPEN for k in (
        "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
        "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
        "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
        "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image")}}}
POD_SECURITY_CONTEXT = obj(seLinuxOptions=SE_LINUX, windowsOptions=WINDOWS, runAsUser=I64, runAsGroup=I64,
                           runAsNonRoot=B, supplementalGroups=arr(I64), supplementalGroupsPolicy=S, fsGroup=I64,
                           sysctls=arr(obj(name=S, value=S)), fsGroupChangePolicy=S, seccompProfile=SECCOMP,
                           appArmorProfile=APPARMOR, seLinuxChangePolicy=S)
POD_SPEC = obj(
    volumes=arr(VOLUME, "name", "merge,retainKeys"), initContainers=arr(CONTAINER, "name"),
    containers=arr(CONTAINER, "name"), ephemeralContainers=arr(EPHEMERAL, "name"), restartPolicy=S,
    terminationGracePeriodSeconds=I64, activeDeadlineSeconds=I64, dnsPolicy=S, nodeSelector=smap(),
    serviceAccountName=S, serviceAccount=S, automountServiceAccountToken=B, nodeName=S, hostNetwork=B, hostPID=B,
    hostIPC=B, shareProcessNamespace=B, securityContext=POD_SECURITY_CONTEXT,
    imagePullSecrets=arr(obj(name=S), "name"), hostname=S, subdomain=S, affinity=OPEN, schedulerName=S,
    tolerations=arr(TOLERATION), hostAliases=arr(obj(ip=S, hostnames=arr(S)), "ip"), priorityClassName=S,
    priority=I32, dnsConfig=obj(nameservers=arr(S), searches=arr(S), options=arr(obj(name=S, value=S))),
    readinessGates=arr(obj(conditionType=S)), runtimeClassName=S, enableServiceLinks=B, preemptionPolicy=S,
    overhead=smap(QTY), topologySpreadConstraints=arr(OPEN, "topologyKey"), setHostnameAsFQDN=B,
    os=obj(name=S), hostUsers=B, schedulingGates=arr(obj(name=S), "name"),
    resourceClaims=arr(obj(name=S, resourceClaimName=S, resourceClaimTemplateName=S), "name"),
    resources=RESOURCES)
CONDITION = obj(type=S, status=S, observedGeneration=I64, lastProbeTime=TIME, lastTransitionTime=TIME,
                lastUpdateTime=TIME, lastHeartbeatTime=TIME, reason=S, message=S)
CONTAINER_STATE = obj(waiting=obj(reason=S, message=S),
                      running=obj(startedAt=TIME),
                      terminated=obj(exitCode=I32, signal=I32, reason=S, message=S, startedAt=TIME, finishedAt=TIME,
                                     containerID=S))
CONTAINER_STATUS = obj(name=S, state=CONTAINER_STATE, lastState=CONTAINER_STATE, ready=B, restartCount=I32,
                       image=S, imageID=S, containerID=S, started=B, allocatedResources=smap(QTY),
                       resources=RESOURCES, volumeMounts=arr(OPEN), user=OPEN,
                       allocatedResourcesStatus=arr(OPEN), stopSignal=S)
POD_STATUS = obj(observedGeneration=I64, phase=S, conditions=arr(CONDITION, "type"), message=S, reason=S,
                 nominatedNodeName=S, hostIP=S, hostIPs=arr(obj(ip=S), "ip"), podIP=S,
                 podIPs=arr(obj(ip=S), "ip"), startTime=TIME, initContainerStatuses=arr(CONTAINER_STATUS),
                 containerStatuses=arr(CONTAINER_STATUS), qosClass=S, ephemeralContainerStatuses=arr(CONTAINER_STATUS),
                 resize=S, resourceClaimStatuses=arr(OPEN, "name"))
POD_TEMPLATE = obj(metadata=OBJECT_META, spec=POD_SPEC)
DEPLOYMENT = obj(
    spec=obj(replicas=I32, selector=LABEL_SELECTOR, template=POD_TEMPLATE,
             strategy=obj(type=S, rollingUpdate=obj(maxUnavailable=INT_OR_STR, maxSurge=INT_OR_STR)),
             minReadySeconds=I32, revisionHistoryLimit=I32, paused=B, progressDeadlineSeconds=I32),
    status=obj(observedGeneration=I64, replicas=I32, updatedReplicas=I32, readyReplicas=I32, availableReplicas=I32,
               unavailableReplicas=I32, terminatingReplicas=I32, conditions=arr(CONDITION, "type"),
               collisionCount=I32))
REPLICASET = obj(
    spec=obj(replicas=I32, minReadySeconds=I32, selector=LABEL_SELECTOR, template=POD_TEMPLATE),
    status=obj(replicas=I32, fullyLabeledReplicas=I32, readyReplicas=I32, availableReplicas=I32,
               terminatingReplicas=I32, observedGeneration=I64, conditions=arr(CONDITION, "type")))
STATEFULSET = obj(
    spec=obj(replicas=I32, selector=LABEL_SELECTOR, template=POD_TEMPLATE, volumeClaimTemplates=arr(OPEN),
             serviceName=S, podManagementPolicy=S,
             updateStrategy=obj(type=S, rollingUpdate=obj(partition=I32, maxUnavailable=INT_OR_STR)),
             revisionHistoryLimit=I32, minReadySeconds=I32,
             persistentVolumeClaimRetentionPolicy=obj(whenDeleted=S, whenScaled=S), ordinals=obj(start=I32)),
    status=obj(observedGeneration=I64, replicas=I32, readyReplicas=I32, currentReplicas=I32, updatedReplicas=I32,
               currentRevision=S, updateRevision=S, collisionCount=I32, conditions=arr(CONDITION, "type"),
               availableReplicas=I32))
DAEMONSET = obj(
    spec=obj(selector=LABEL_SELECTOR, template=POD_TEMPLATE,
             updateStrategy=obj(type=S, rollingUpdate=obj(maxUnavailable=INT_OR_STR, maxSurge=INT_OR_STR)),
             minReadySeconds=I32, revisionHistoryLimit=I32),
    status=obj(currentNumberScheduled=I32, numberMisscheduled=I32, desiredNumberScheduled=I32, numberReady=I32,
               observedGeneration=I64, updatedNumberScheduled=I32, numberAvailable=I32, numberUnavailable=I32,
               collisionCount=I32, conditions=arr(CONDITION, "type")))
MICRO_TIME = {"type": "string", "format": "date-time"}
LEASE = obj(spec=obj(holderIdentity=S, leaseDurationSeconds=I32, acquireTime=MICRO_TIME, renewTime=MICRO_TIME,
                     leaseTransitions=I32, strategy=S, preferredHolder=S))
OBJECT_REF = obj(kind=S, namespace=S, name=S, uid=S, apiVersion=S, resourceVersion=S, fieldPath=S)
EVENT_SOURCE = obj(component=S, host=S)
SERIES = obj(count=I32, lastObservedTime=MICRO_TIME)
EVENT = obj(involvedObject=OBJECT_REF, reason=S, message=S, source=EVENT_SOURCE, firstTimestamp=TIME,
            lastTimestamp=TIME, count=I32, type=S, eventTime=MICRO_TIME, series=SERIES, action=S, related=OBJECT_REF,
            reportingComponent=S, reportingInstance=S)
EVENT_V1 = obj(eventTime=MICRO_TIME, series=SERIES, reportingController=S, reportingInstance=S, action=S, reason=S,
               regarding=OBJECT_REF, related=OBJECT_REF, note=S, type=S, deprecatedSource=EVENT_SOURCE,
               deprecatedFirstTimestamp=TIME, deprecatedLastTimestamp=TIME, deprecatedCount=I32)
CONFIGMAP = obj(immutable=B, data=smap(), binaryData=smap({"type": "string", "format": "byte"}))
SECRET = obj(immutable=B, data=smap({"type": "string", "format": "byte"}), stringData=smap(), type=S)
NAMESPACE = obj(spec=obj(finalizers=arr(S)), status=obj(phase=S, conditions=arr(CONDITION, "type")))
SERVICE_ACCOUNT = obj(secrets=arr(OBJECT_REF, "name"), imagePullSecrets=arr(obj(name=S)),
                      automountServiceAccountToken=B)
POLICY_RULE = obj(verbs=arr(S), apiGroups=arr(S), resources=arr(S), resourceNames=arr(S), nonResourceURLs=arr(S))
SUBJECT = obj(kind=S, apiGroup=S, name=S, namespace=S)
ROLE_REF = obj(apiGroup=S, kind=S, name=S)
ROLE = obj(rules=arr(POLICY_RULE))
CLUSTER_ROLE = obj(rules=arr(POLICY_RULE), aggregationRule=obj(clusterRoleSelectors=arr(LABEL_SELECTOR)))
BINDING = obj(subjects=arr(SUBJECT), roleRef=ROLE_REF)

# kind key (as kubesim_resources.Resource.key) -> root schema (without apiVersion/kind/metadata)
KINDS = {
    "pods": obj(spec=POD_SPEC, status=POD_STATUS),
    "deployments.apps": DEPLOYMENT,
    "replicasets.apps": REPLICASET,
    "statefulsets.apps": STATEFULSET,
    "daemonsets.apps": DAEMONSET,
    "leases.coordination.k8s.io": LEASE,
    "configmaps": CONFIGMAP,
    "secrets": SECRET,
    "namespaces": NAMESPACE,
    "serviceaccounts": SERVICE_ACCOUNT,
    "roles.rbac.authorization.k8s.io": ROLE,
    "clusterroles.rbac.authorization.k8s.io": CLUSTER_ROLE,
    "rolebindings.rbac.authorization.k8s.io": BINDING,
    "clusterrolebindings.rbac.authorization.k8s.io": BINDING,
}
# core/v1 and events.k8s.io/v1 events share storage but not their fields
EVENT_SCHEMAS = {"": EVENT, "events.k8s.io": EVENT_V1}

# Go type names for OpenAPI component names
GO_PACKAGES = {"": "io.k8s.api.core.v1", "apps": "io.k8s.api.apps.v1",
               "coordination.k8s.io": "io.k8s.api.coordination.v1", "events.k8s.io": "io.k8s.api.events.v1",
               "rbac.authorization.k8s.io": "io.k8s.api.rbac.v1", "policy": "io.k8s.api.policy.v1",
               "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1",
               "authorization.k8s.io": "io.k8s.api.authorization.v1"}


def schema_for(res):
    """The root schema of a built-in resource, or None (then it is never pruned)."""
    if res.key == "events":
        body = EVENT_SCHEMAS.get(res.group)
    else:
        body = KINDS.get(res.key)
    if body is None:
        return None
    props = dict(body["properties"])
    props.update({"apiVersion": S, "kind": S, "metadata": OBJECT_META})
    return {"type": "object", "properties": props}
