"""Protobuf field table of the Pod tree of core/v1: PodSpec, containers, volumes, probes.

Everything a PodTemplateSpec can hold (so Deployments, Jobs, StatefulSets... reuse it):
containers and their env, ports, resources, probes, lifecycle hooks and security contexts; every
volume source; affinity, tolerations, topology spread constraints and DNS settings. Field
numbers are those of upstream's k8s.io/api/core/v1/generated.proto; pointer and
``omitempty``-less fields (``!``) and ``json:",inline"`` embeddings (``^``) follow its types.go.
The syntax is described in ``server/protobuf/schema.py``.
"""

from __future__ import annotations

MESSAGES = """
Volume: 1 name str!, 2 volumeSource VolumeSource^
VolumeSource: 1 hostPath HostPathVolumeSource, 2 emptyDir EmptyDirVolumeSource,
  3 gcePersistentDisk GCEPersistentDiskVolumeSource,
  4 awsElasticBlockStore AWSElasticBlockStoreVolumeSource, 5 gitRepo GitRepoVolumeSource,
  6 secret SecretVolumeSource, 7 nfs NFSVolumeSource, 8 iscsi ISCSIVolumeSource,
  9 glusterfs GlusterfsVolumeSource, 10 persistentVolumeClaim PersistentVolumeClaimVolumeSource,
  11 rbd RBDVolumeSource, 12 flexVolume FlexVolumeSource, 13 cinder CinderVolumeSource,
  14 cephfs CephFSVolumeSource, 15 flocker FlockerVolumeSource,
  16 downwardAPI DownwardAPIVolumeSource, 17 fc FCVolumeSource, 18 azureFile AzureFileVolumeSource,
  19 configMap ConfigMapVolumeSource, 20 vsphereVolume VsphereVirtualDiskVolumeSource,
  21 quobyte QuobyteVolumeSource, 22 azureDisk AzureDiskVolumeSource,
  23 photonPersistentDisk PhotonPersistentDiskVolumeSource, 24 portworxVolume PortworxVolumeSource,
  25 scaleIO ScaleIOVolumeSource, 26 projected ProjectedVolumeSource,
  27 storageos StorageOSVolumeSource, 28 csi CSIVolumeSource, 29 ephemeral EphemeralVolumeSource,
  30 image ImageVolumeSource
PersistentVolumeClaimVolumeSource: 1 claimName str!, 2 readOnly bool
PersistentVolumeClaimSpec: 1 accessModes []str, 4 selector LabelSelector,
  2 resources VolumeResourceRequirements, 3 volumeName str, 5 storageClassName str!,
  6 volumeMode str!, 7 dataSource TypedLocalObjectReference, 8 dataSourceRef TypedObjectReference,
  9 volumeAttributesClassName str!
TypedObjectReference: 1 apiGroup str!, 2 kind str!, 3 name str!, 4 namespace str!
HostPathVolumeSource: 1 path str!, 2 type str!
EmptyDirVolumeSource: 1 medium str, 2 sizeLimit Quantity
GlusterfsVolumeSource: 1 endpoints str!, 2 path str!, 3 readOnly bool
RBDVolumeSource: 1 monitors []str, 2 image str!, 3 fsType str, 4 pool str, 5 user str,
  6 keyring str, 7 secretRef LocalObjectReference, 8 readOnly bool
CinderVolumeSource: 1 volumeID str!, 2 fsType str, 3 readOnly bool, 4 secretRef LocalObjectReference
CephFSVolumeSource: 1 monitors []str, 2 path str, 3 user str, 4 secretFile str,
  5 secretRef LocalObjectReference, 6 readOnly bool
SecretReference: 1 name str, 2 namespace str
FlockerVolumeSource: 1 datasetName str, 2 datasetUUID str
GCEPersistentDiskVolumeSource: 1 pdName str!, 2 fsType str, 3 partition int, 4 readOnly bool
QuobyteVolumeSource: 1 registry str!, 2 volume str!, 3 readOnly bool, 4 user str, 5 group str,
  6 tenant str
FlexVolumeSource: 1 driver str!, 2 fsType str, 3 secretRef LocalObjectReference, 4 readOnly bool,
  5 options {str}
AWSElasticBlockStoreVolumeSource: 1 volumeID str!, 2 fsType str, 3 partition int, 4 readOnly bool
GitRepoVolumeSource: 1 repository str!, 2 revision str, 3 directory str
SecretVolumeSource: 1 secretName str, 2 items []KeyToPath, 3 defaultMode int!, 4 optional bool!
SecretProjection: 1 localObjectReference LocalObjectReference^, 2 items []KeyToPath,
  4 optional bool!
NFSVolumeSource: 1 server str!, 2 path str!, 3 readOnly bool
ISCSIVolumeSource: 1 targetPortal str!, 2 iqn str!, 3 lun int!, 4 iscsiInterface str, 5 fsType str,
  6 readOnly bool, 7 portals []str, 8 chapAuthDiscovery bool, 11 chapAuthSession bool,
  10 secretRef LocalObjectReference, 12 initiatorName str!
FCVolumeSource: 1 targetWWNs []str, 2 lun int!, 3 fsType str, 4 readOnly bool, 5 wwids []str
AzureFileVolumeSource: 1 secretName str!, 2 shareName str!, 3 readOnly bool
VsphereVirtualDiskVolumeSource: 1 volumePath str!, 2 fsType str, 3 storagePolicyName str,
  4 storagePolicyID str
PhotonPersistentDiskVolumeSource: 1 pdID str!, 2 fsType str
AzureDiskVolumeSource: 1 diskName str!, 2 diskURI str!, 3 cachingMode str!, 4 fsType str!,
  5 readOnly bool!, 6 kind str!
PortworxVolumeSource: 1 volumeID str!, 2 fsType str, 3 readOnly bool
ScaleIOVolumeSource: 1 gateway str!, 2 system str!, 3 secretRef LocalObjectReference,
  4 sslEnabled bool, 5 protectionDomain str, 6 storagePool str, 7 storageMode str, 8 volumeName str,
  9 fsType str, 10 readOnly bool
StorageOSVolumeSource: 1 volumeName str, 2 volumeNamespace str, 3 fsType str, 4 readOnly bool,
  5 secretRef LocalObjectReference
ConfigMapVolumeSource: 1 localObjectReference LocalObjectReference^, 2 items []KeyToPath,
  3 defaultMode int!, 4 optional bool!
ConfigMapProjection: 1 localObjectReference LocalObjectReference^, 2 items []KeyToPath,
  4 optional bool!
ServiceAccountTokenProjection: 1 audience str, 2 expirationSeconds int!, 3 path str!
ClusterTrustBundleProjection: 1 name str!, 2 signerName str!, 3 labelSelector LabelSelector,
  5 optional bool!, 4 path str!
ProjectedVolumeSource: 1 sources []VolumeProjection, 2 defaultMode int!
VolumeProjection: 1 secret SecretProjection, 2 downwardAPI DownwardAPIProjection,
  3 configMap ConfigMapProjection, 4 serviceAccountToken ServiceAccountTokenProjection,
  5 clusterTrustBundle ClusterTrustBundleProjection
KeyToPath: 1 key str!, 2 path str!, 3 mode int!
CSIVolumeSource: 1 driver str!, 2 readOnly bool!, 3 fsType str!, 4 volumeAttributes {str},
  5 nodePublishSecretRef LocalObjectReference
EphemeralVolumeSource: 1 volumeClaimTemplate PersistentVolumeClaimTemplate
PersistentVolumeClaimTemplate: 1 metadata ObjectMeta, 2 spec PersistentVolumeClaimSpec
ContainerPort: 1 name str, 2 hostPort int, 3 containerPort int!, 4 protocol str, 5 hostIP str
VolumeMount: 1 name str!, 2 readOnly bool, 3 mountPath str!, 4 subPath str, 5 mountPropagation str!,
  6 subPathExpr str, 7 recursiveReadOnly str!
VolumeDevice: 1 name str!, 2 devicePath str!
EnvVar: 1 name str!, 2 value str, 3 valueFrom EnvVarSource
EnvVarSource: 1 fieldRef ObjectFieldSelector, 2 resourceFieldRef ResourceFieldSelector,
  3 configMapKeyRef ConfigMapKeySelector, 4 secretKeyRef SecretKeySelector
ObjectFieldSelector: 1 apiVersion str, 2 fieldPath str!
ResourceFieldSelector: 1 containerName str, 2 resource str!, 3 divisor Quantity
ConfigMapKeySelector: 1 localObjectReference LocalObjectReference^, 2 key str!, 3 optional bool!
SecretKeySelector: 1 localObjectReference LocalObjectReference^, 2 key str!, 3 optional bool!
EnvFromSource: 1 prefix str, 2 configMapRef ConfigMapEnvSource, 3 secretRef SecretEnvSource
ConfigMapEnvSource: 1 localObjectReference LocalObjectReference^, 2 optional bool!
SecretEnvSource: 1 localObjectReference LocalObjectReference^, 2 optional bool!
HTTPHeader: 1 name str!, 2 value str!
HTTPGetAction: 1 path str, 2 port IntOrString, 3 host str, 4 scheme str, 5 httpHeaders []HTTPHeader
TCPSocketAction: 1 port IntOrString, 2 host str
GRPCAction: 1 port int!, 2 service str!
ExecAction: 1 command []str
SleepAction: 1 seconds int!
Probe: 1 handler ProbeHandler^, 2 initialDelaySeconds int, 3 timeoutSeconds int,
  4 periodSeconds int, 5 successThreshold int, 6 failureThreshold int,
  7 terminationGracePeriodSeconds int!
ContainerResizePolicy: 1 resourceName str!, 2 restartPolicy str!
Capabilities: 1 add []str, 2 drop []str
ResourceRequirements: 1 limits {Quantity}, 2 requests {Quantity}, 3 claims []ResourceClaim
VolumeResourceRequirements: 1 limits {Quantity}, 2 requests {Quantity}
ResourceClaim: 1 name str!, 2 request str
ImageVolumeSource: 1 reference str, 2 pullPolicy str
Container: 1 name str!, 2 image str, 3 command []str, 4 args []str, 5 workingDir str,
  6 ports []ContainerPort, 19 envFrom []EnvFromSource, 7 env []EnvVar,
  8 resources ResourceRequirements, 23 resizePolicy []ContainerResizePolicy, 24 restartPolicy str!,
  9 volumeMounts []VolumeMount, 21 volumeDevices []VolumeDevice, 10 livenessProbe Probe,
  11 readinessProbe Probe, 22 startupProbe Probe, 12 lifecycle Lifecycle,
  13 terminationMessagePath str, 20 terminationMessagePolicy str, 14 imagePullPolicy str,
  15 securityContext SecurityContext, 16 stdin bool, 17 stdinOnce bool, 18 tty bool
ProbeHandler: 1 exec ExecAction, 2 httpGet HTTPGetAction, 3 tcpSocket TCPSocketAction,
  4 grpc GRPCAction
LifecycleHandler: 1 exec ExecAction, 2 httpGet HTTPGetAction, 3 tcpSocket TCPSocketAction,
  4 sleep SleepAction
Lifecycle: 1 postStart LifecycleHandler, 2 preStop LifecycleHandler
NodeSelector: 1 nodeSelectorTerms []NodeSelectorTerm
NodeSelectorTerm: 1 matchExpressions []NodeSelectorRequirement,
  2 matchFields []NodeSelectorRequirement
NodeSelectorRequirement: 1 key str!, 2 operator str!, 3 values []str
TopologySelectorTerm: 1 matchLabelExpressions []TopologySelectorLabelRequirement
TopologySelectorLabelRequirement: 1 key str!, 2 values []str
Affinity: 1 nodeAffinity NodeAffinity, 2 podAffinity PodAffinity, 3 podAntiAffinity PodAntiAffinity
PodAffinity: 1 requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm,
  2 preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm
PodAntiAffinity: 1 requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm,
  2 preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm
WeightedPodAffinityTerm: 1 weight int!, 2 podAffinityTerm PodAffinityTerm
PodAffinityTerm: 1 labelSelector LabelSelector, 2 namespaces []str, 3 topologyKey str!,
  4 namespaceSelector LabelSelector, 5 matchLabelKeys []str, 6 mismatchLabelKeys []str
NodeAffinity: 1 requiredDuringSchedulingIgnoredDuringExecution NodeSelector,
  2 preferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm
PreferredSchedulingTerm: 1 weight int!, 2 preference NodeSelectorTerm
Toleration: 1 key str, 2 operator str, 3 value str, 4 effect str, 5 tolerationSeconds int!
PodReadinessGate: 1 conditionType str!
PodSpec: 1 volumes []Volume, 20 initContainers []Container, 2 containers []Container,
  34 ephemeralContainers []EphemeralContainer, 3 restartPolicy str,
  4 terminationGracePeriodSeconds int!, 5 activeDeadlineSeconds int!, 6 dnsPolicy str,
  7 nodeSelector {str}, 8 serviceAccountName str, 9 serviceAccount str,
  21 automountServiceAccountToken bool!, 10 nodeName str, 11 hostNetwork bool, 12 hostPID bool,
  13 hostIPC bool, 27 shareProcessNamespace bool!, 14 securityContext PodSecurityContext,
  15 imagePullSecrets []LocalObjectReference, 16 hostname str, 17 subdomain str,
  18 affinity Affinity, 19 schedulerName str, 22 tolerations []Toleration,
  23 hostAliases []HostAlias, 24 priorityClassName str, 25 priority int!, 26 dnsConfig PodDNSConfig,
  28 readinessGates []PodReadinessGate, 29 runtimeClassName str!, 30 enableServiceLinks bool!,
  31 preemptionPolicy str!, 32 overhead {Quantity},
  33 topologySpreadConstraints []TopologySpreadConstraint, 35 setHostnameAsFQDN bool!, 36 os PodOS,
  37 hostUsers bool!, 38 schedulingGates []PodSchedulingGate, 39 resourceClaims []PodResourceClaim
PodResourceClaim: 1 name str!, 2 source ClaimSource, 3 resourceClaimName str!,
  4 resourceClaimTemplateName str!
ClaimSource: 1 resourceClaimName str!, 2 resourceClaimTemplateName str!
PodOS: 1 name str!
PodSchedulingGate: 1 name str!
TopologySpreadConstraint: 1 maxSkew int!, 2 topologyKey str!, 3 whenUnsatisfiable str!,
  4 labelSelector LabelSelector, 5 minDomains int!, 6 nodeAffinityPolicy str!,
  7 nodeTaintsPolicy str!, 8 matchLabelKeys []str
HostAlias: 1 ip str, 2 hostnames []str
PodSecurityContext: 1 seLinuxOptions SELinuxOptions, 8 windowsOptions WindowsSecurityContextOptions,
  2 runAsUser int!, 6 runAsGroup int!, 3 runAsNonRoot bool!, 4 supplementalGroups []int,
  5 fsGroup int!, 7 sysctls []Sysctl, 9 fsGroupChangePolicy str!, 10 seccompProfile SeccompProfile,
  11 appArmorProfile AppArmorProfile, 12 supplementalGroupsPolicy str!
SeccompProfile: 1 type str!, 2 localhostProfile str!
AppArmorProfile: 1 type str!, 2 localhostProfile str!
PodDNSConfig: 1 nameservers []str, 2 searches []str, 3 options []PodDNSConfigOption
PodDNSConfigOption: 1 name str, 2 value str!
EphemeralContainerCommon: 1 name str!, 2 image str, 3 command []str, 4 args []str, 5 workingDir str,
  6 ports []ContainerPort, 19 envFrom []EnvFromSource, 7 env []EnvVar,
  8 resources ResourceRequirements, 23 resizePolicy []ContainerResizePolicy, 24 restartPolicy str!,
  9 volumeMounts []VolumeMount, 21 volumeDevices []VolumeDevice, 10 livenessProbe Probe,
  11 readinessProbe Probe, 22 startupProbe Probe, 12 lifecycle Lifecycle,
  13 terminationMessagePath str, 20 terminationMessagePolicy str, 14 imagePullPolicy str,
  15 securityContext SecurityContext, 16 stdin bool, 17 stdinOnce bool, 18 tty bool
EphemeralContainer: 1 ephemeralContainerCommon EphemeralContainerCommon^, 2 targetContainerName str
PodTemplateSpec: 1 metadata ObjectMeta, 2 spec PodSpec
DownwardAPIVolumeSource: 1 items []DownwardAPIVolumeFile, 2 defaultMode int!
DownwardAPIVolumeFile: 1 path str!, 2 fieldRef ObjectFieldSelector,
  3 resourceFieldRef ResourceFieldSelector, 4 mode int!
DownwardAPIProjection: 1 items []DownwardAPIVolumeFile
SecurityContext: 1 capabilities Capabilities, 2 privileged bool!, 3 seLinuxOptions SELinuxOptions,
  10 windowsOptions WindowsSecurityContextOptions, 4 runAsUser int!, 8 runAsGroup int!,
  5 runAsNonRoot bool!, 6 readOnlyRootFilesystem bool!, 7 allowPrivilegeEscalation bool!,
  9 procMount str!, 11 seccompProfile SeccompProfile, 12 appArmorProfile AppArmorProfile
SELinuxOptions: 1 user str, 2 role str, 3 type str, 4 level str
WindowsSecurityContextOptions: 1 gmsaCredentialSpecName str!, 2 gmsaCredentialSpec str!,
  3 runAsUserName str!, 4 hostProcess bool!
Sysctl: 1 name str!, 2 value str!
"""
