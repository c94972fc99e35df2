"""Protobuf field table of the core/v1 kinds other than the Pod tree.

Namespace, ConfigMap, Secret, Service, ServiceAccount, Endpoints, Node, Event, Binding,
LimitRange, ResourceQuota, PersistentVolume(Claim), ReplicationController, ComponentStatus, the
Pod object with its status, and the references they share (ObjectReference,
LocalObjectReference...). Field numbers are those of upstream's
k8s.io/api/core/v1/generated.proto; syntax in ``server/protobuf/schema.py``.
"""

from __future__ import annotations

MESSAGES = """
PersistentVolumeSource: 1 gcePersistentDisk GCEPersistentDiskVolumeSource,
  2 awsElasticBlockStore AWSElasticBlockStoreVolumeSource, 3 hostPath HostPathVolumeSource,
  4 glusterfs GlusterfsPersistentVolumeSource, 5 nfs NFSVolumeSource,
  6 rbd RBDPersistentVolumeSource, 7 iscsi ISCSIPersistentVolumeSource,
  8 cinder CinderPersistentVolumeSource, 9 cephfs CephFSPersistentVolumeSource,
  10 fc FCVolumeSource, 11 flocker FlockerVolumeSource, 12 flexVolume FlexPersistentVolumeSource,
  13 azureFile AzureFilePersistentVolumeSource, 14 vsphereVolume VsphereVirtualDiskVolumeSource,
  15 quobyte QuobyteVolumeSource, 16 azureDisk AzureDiskVolumeSource,
  17 photonPersistentDisk PhotonPersistentDiskVolumeSource, 18 portworxVolume PortworxVolumeSource,
  19 scaleIO ScaleIOPersistentVolumeSource, 20 local LocalVolumeSource,
  21 storageos StorageOSPersistentVolumeSource, 22 csi CSIPersistentVolumeSource
PersistentVolume: 1 metadata ObjectMeta, 2 spec PersistentVolumeSpec,
  3 status PersistentVolumeStatus
PersistentVolumeSpec: 1 capacity {Quantity}, 2 persistentVolumeSource PersistentVolumeSource^,
  3 accessModes []str, 4 claimRef ObjectReference, 5 persistentVolumeReclaimPolicy str,
  6 storageClassName str, 7 mountOptions []str, 8 volumeMode str!,
  9 nodeAffinity VolumeNodeAffinity, 10 volumeAttributesClassName str!
VolumeNodeAffinity: 1 required NodeSelector
PersistentVolumeStatus: 1 phase str, 2 message str, 3 reason str, 4 lastPhaseTransitionTime Time
PersistentVolumeClaim: 1 metadata ObjectMeta, 2 spec PersistentVolumeClaimSpec,
  3 status PersistentVolumeClaimStatus
ModifyVolumeStatus: 1 targetVolumeAttributesClassName str, 2 status str!
PersistentVolumeClaimCondition: 1 type str!, 2 status str!, 3 lastProbeTime Time,
  4 lastTransitionTime Time, 5 reason str, 6 message str
PersistentVolumeClaimStatus: 1 phase str, 2 accessModes []str, 3 capacity {Quantity},
  4 conditions []PersistentVolumeClaimCondition, 5 allocatedResources {Quantity},
  7 allocatedResourceStatuses {str}, 8 currentVolumeAttributesClassName str!,
  9 modifyVolumeStatus ModifyVolumeStatus
GlusterfsPersistentVolumeSource: 1 endpoints str!, 2 path str!, 3 readOnly bool,
  4 endpointsNamespace str!
RBDPersistentVolumeSource: 1 monitors []str, 2 image str!, 3 fsType str, 4 pool str, 5 user str,
  6 keyring str, 7 secretRef SecretReference, 8 readOnly bool
CinderPersistentVolumeSource: 1 volumeID str!, 2 fsType str, 3 readOnly bool,
  4 secretRef SecretReference
CephFSPersistentVolumeSource: 1 monitors []str, 2 path str, 3 user str, 4 secretFile str,
  5 secretRef SecretReference, 6 readOnly bool
FlexPersistentVolumeSource: 1 driver str!, 2 fsType str, 3 secretRef SecretReference,
  4 readOnly bool, 5 options {str}
ISCSIPersistentVolumeSource: 1 targetPortal str!, 2 iqn str!, 3 lun int!, 4 iscsiInterface str,
  5 fsType str, 6 readOnly bool, 7 portals []str, 8 chapAuthDiscovery bool, 11 chapAuthSession bool,
  10 secretRef SecretReference, 12 initiatorName str!
AzureFilePersistentVolumeSource: 1 secretName str!, 2 shareName str!, 3 readOnly bool,
  4 secretNamespace str!
ScaleIOPersistentVolumeSource: 1 gateway str!, 2 system str!, 3 secretRef SecretReference,
  4 sslEnabled bool, 5 protectionDomain str, 6 storagePool str, 7 storageMode str, 8 volumeName str,
  9 fsType str, 10 readOnly bool
StorageOSPersistentVolumeSource: 1 volumeName str, 2 volumeNamespace str, 3 fsType str,
  4 readOnly bool, 5 secretRef ObjectReference
LocalVolumeSource: 1 path str!, 2 fsType str!
CSIPersistentVolumeSource: 1 driver str!, 2 volumeHandle str!, 3 readOnly bool, 4 fsType str,
  5 volumeAttributes {str}, 6 controllerPublishSecretRef SecretReference,
  7 nodeStageSecretRef SecretReference, 8 nodePublishSecretRef SecretReference,
  9 controllerExpandSecretRef SecretReference, 10 nodeExpandSecretRef SecretReference
ContainerStateWaiting: 1 reason str, 2 message str
ContainerStateRunning: 1 startedAt Time
ContainerStateTerminated: 1 exitCode int!, 2 signal int, 3 reason str, 4 message str,
  5 startedAt Time, 6 finishedAt Time, 7 containerID str
ContainerState: 1 waiting ContainerStateWaiting, 2 running ContainerStateRunning,
  3 terminated ContainerStateTerminated
ContainerStatus: 1 name str!, 2 state ContainerState, 3 lastState ContainerState, 4 ready bool!,
  5 restartCount int!, 6 image str!, 7 imageID str!, 8 containerID str, 9 started bool!,
  10 allocatedResources {Quantity}, 11 resources ResourceRequirements
PodCondition: 1 type str!, 2 status str!, 3 lastProbeTime Time, 4 lastTransitionTime Time,
  5 reason str, 6 message str
Taint: 1 key str!, 2 value str, 3 effect str!, 4 timeAdded Time
PodResourceClaimStatus: 1 name str!, 2 resourceClaimName str!
PodIP: 1 ip str
HostIP: 1 ip str
PodStatus: 1 phase str, 2 conditions []PodCondition, 3 message str, 4 reason str,
  11 nominatedNodeName str, 5 hostIP str, 16 hostIPs []HostIP, 6 podIP str, 12 podIPs []PodIP,
  7 startTime Time, 10 initContainerStatuses []ContainerStatus,
  8 containerStatuses []ContainerStatus, 9 qosClass str,
  13 ephemeralContainerStatuses []ContainerStatus, 14 resize str,
  15 resourceClaimStatuses []PodResourceClaimStatus
Pod: 1 metadata ObjectMeta, 2 spec PodSpec, 3 status PodStatus
PodTemplate: 1 metadata ObjectMeta, 2 template PodTemplateSpec
ReplicationControllerSpec: 1 replicas int!, 4 minReadySeconds int, 2 selector {str},
  3 template PodTemplateSpec
ReplicationControllerStatus: 1 replicas int!, 2 fullyLabeledReplicas int, 4 readyReplicas int,
  5 availableReplicas int, 3 observedGeneration int, 6 conditions []ReplicationControllerCondition
ReplicationControllerCondition: 1 type str!, 2 status str!, 3 lastTransitionTime Time, 4 reason str,
  5 message str
ReplicationController: 1 metadata ObjectMeta, 2 spec ReplicationControllerSpec,
  3 status ReplicationControllerStatus
SessionAffinityConfig: 1 clientIP ClientIPConfig
ClientIPConfig: 1 timeoutSeconds int!
ServiceStatus: 1 loadBalancer LoadBalancerStatus, 2 conditions []Condition
LoadBalancerStatus: 1 ingress []LoadBalancerIngress
LoadBalancerIngress: 1 ip str, 2 hostname str, 3 ipMode str!, 4 ports []PortStatus
ServiceSpec: 1 ports []ServicePort, 2 selector {str}, 3 clusterIP str, 18 clusterIPs []str,
  4 type str, 5 externalIPs []str, 7 sessionAffinity str, 8 loadBalancerIP str,
  9 loadBalancerSourceRanges []str, 10 externalName str, 11 externalTrafficPolicy str,
  12 healthCheckNodePort int, 13 publishNotReadyAddresses bool,
  14 sessionAffinityConfig SessionAffinityConfig, 19 ipFamilies []str, 17 ipFamilyPolicy str!,
  20 allocateLoadBalancerNodePorts bool!, 21 loadBalancerClass str!, 22 internalTrafficPolicy str!
ServicePort: 1 name str, 2 protocol str, 6 appProtocol str!, 3 port int!, 4 targetPort IntOrString,
  5 nodePort int
Service: 1 metadata ObjectMeta, 2 spec ServiceSpec, 3 status ServiceStatus
ServiceAccount: 1 metadata ObjectMeta, 2 secrets []ObjectReference,
  3 imagePullSecrets []LocalObjectReference, 4 automountServiceAccountToken bool!
Endpoints: 1 metadata ObjectMeta, 2 subsets []EndpointSubset
EndpointSubset: 1 addresses []EndpointAddress, 2 notReadyAddresses []EndpointAddress,
  3 ports []EndpointPort
EndpointAddress: 1 ip str!, 3 hostname str, 4 nodeName str!, 2 targetRef ObjectReference
EndpointPort: 1 name str, 2 port int!, 3 protocol str, 4 appProtocol str!
NodeSpec: 1 podCIDR str, 7 podCIDRs []str, 3 providerID str, 4 unschedulable bool, 5 taints []Taint,
  6 configSource NodeConfigSource, 2 externalID str
NodeConfigSource: 2 configMap ConfigMapNodeConfigSource
ConfigMapNodeConfigSource: 1 namespace str!, 2 name str!, 3 uid str, 4 resourceVersion str,
  5 kubeletConfigKey str!
DaemonEndpoint: 1 Port int!
NodeDaemonEndpoints: 1 kubeletEndpoint DaemonEndpoint
NodeSystemInfo: 1 machineID str!, 2 systemUUID str!, 3 bootID str!, 4 kernelVersion str!,
  5 osImage str!, 6 containerRuntimeVersion str!, 7 kubeletVersion str!, 8 kubeProxyVersion str!,
  9 operatingSystem str!, 10 architecture str!
NodeConfigStatus: 1 assigned NodeConfigSource, 2 active NodeConfigSource,
  3 lastKnownGood NodeConfigSource, 4 error str
NodeStatus: 1 capacity {Quantity}, 2 allocatable {Quantity}, 3 phase str,
  4 conditions []NodeCondition, 5 addresses []NodeAddress, 6 daemonEndpoints NodeDaemonEndpoints,
  7 nodeInfo NodeSystemInfo, 8 images []ContainerImage, 9 volumesInUse []str,
  10 volumesAttached []AttachedVolume, 11 config NodeConfigStatus
AttachedVolume: 1 name str!, 2 devicePath str!
ContainerImage: 1 names []str, 2 sizeBytes int
NodeCondition: 1 type str!, 2 status str!, 3 lastHeartbeatTime Time, 4 lastTransitionTime Time,
  5 reason str, 6 message str
NodeAddress: 1 type str!, 2 address str!
Node: 1 metadata ObjectMeta, 2 spec NodeSpec, 3 status NodeStatus
NamespaceSpec: 1 finalizers []str
NamespaceStatus: 1 phase str, 2 conditions []NamespaceCondition
NamespaceCondition: 1 type str!, 2 status str!, 4 lastTransitionTime Time, 5 reason str,
  6 message str
Namespace: 1 metadata ObjectMeta, 2 spec NamespaceSpec, 3 status NamespaceStatus
Binding: 1 metadata ObjectMeta, 2 target ObjectReference
ObjectReference: 1 kind str, 2 namespace str, 3 name str, 4 uid str, 5 apiVersion str,
  6 resourceVersion str, 7 fieldPath str
LocalObjectReference: 1 name str
TypedLocalObjectReference: 1 apiGroup str!, 2 kind str!, 3 name str!
EventSource: 1 component str, 2 host str
Event: 1 metadata ObjectMeta, 2 involvedObject ObjectReference, 3 reason str, 4 message str,
  5 source EventSource, 6 firstTimestamp Time, 7 lastTimestamp Time, 8 count int, 9 type str,
  10 eventTime MicroTime, 11 series EventSeries, 12 action str, 13 related ObjectReference,
  14 reportingComponent str!, 15 reportingInstance str!
EventSeries: 1 count int, 2 lastObservedTime MicroTime
LimitRangeItem: 1 type str!, 2 max {Quantity}, 3 min {Quantity}, 4 default {Quantity},
  5 defaultRequest {Quantity}, 6 maxLimitRequestRatio {Quantity}
LimitRangeSpec: 1 limits []LimitRangeItem
LimitRange: 1 metadata ObjectMeta, 2 spec LimitRangeSpec
ResourceQuotaSpec: 1 hard {Quantity}, 2 scopes []str, 3 scopeSelector ScopeSelector
ScopeSelector: 1 matchExpressions []ScopedResourceSelectorRequirement
ScopedResourceSelectorRequirement: 1 scopeName str!, 2 operator str!, 3 values []str
ResourceQuotaStatus: 1 hard {Quantity}, 2 used {Quantity}
ResourceQuota: 1 metadata ObjectMeta, 2 spec ResourceQuotaSpec, 3 status ResourceQuotaStatus
Secret: 1 metadata ObjectMeta, 5 immutable bool!, 2 data {bytes}, 4 stringData {str}, 3 type str
ConfigMap: 1 metadata ObjectMeta, 4 immutable bool!, 2 data {str}, 3 binaryData {bytes}
ComponentCondition: 1 type str!, 2 status str!, 3 message str, 4 error str
ComponentStatus: 1 metadata ObjectMeta, 2 conditions []ComponentCondition
PortStatus: 1 port int!, 2 protocol str!, 3 error str!
"""
