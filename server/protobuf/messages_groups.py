"""Protobuf field table of meta/v1 and of the non-core API groups kubectl sends typed bodies for.

meta.k8s.io/v1 (ObjectMeta, OwnerReference, ManagedFieldsEntry, LabelSelector, Condition,
DeleteOptions), apps/v1 workloads, batch/v1 Job/CronJob, autoscaling/v1 Scale, RBAC, policy/v1
PodDisruptionBudget and Eviction, networking.k8s.io/v1 Ingress/IngressClass/NetworkPolicy,
PriorityClass, Lease, TokenRequest/TokenReview and the authorization reviews. Field numbers are
those of upstream's generated.proto for each group; syntax in ``server/protobuf/schema.py``.
"""

from __future__ import annotations

MESSAGES = """
# meta.k8s.io/v1 (k8s.io/apimachinery/pkg/apis/meta/v1)
ObjectMeta: 1 name str, 2 generateName str, 3 namespace str, 4 selfLink str, 5 uid str,
  6 resourceVersion str, 7 generation int, 8 creationTimestamp Time, 9 deletionTimestamp Time,
  10 deletionGracePeriodSeconds int!, 11 labels {str}, 12 annotations {str},
  13 ownerReferences []OwnerReference, 14 finalizers []str, 17 managedFields []ManagedFieldsEntry
OwnerReference: 5 apiVersion str!, 1 kind str!, 3 name str!, 4 uid str!, 6 controller bool!,
  7 blockOwnerDeletion bool!
ManagedFieldsEntry: 1 manager str, 2 operation str, 3 apiVersion str, 4 time Time, 6 fieldsType str,
  7 fieldsV1 FieldsV1, 8 subresource str
LabelSelector: 1 matchLabels {str}, 2 matchExpressions []LabelSelectorRequirement
LabelSelectorRequirement: 1 key str!, 2 operator str!, 3 values []str
Condition: 1 type str!, 2 status str!, 3 observedGeneration int, 4 lastTransitionTime Time!,
  5 reason str!, 6 message str!
DeleteOptions: 1 gracePeriodSeconds int!, 2 preconditions Preconditions, 3 orphanDependents bool!,
  4 propagationPolicy str!, 5 dryRun []str, 6 ignoreStoreReadErrorWithClusterBreakingPotential bool!
Preconditions: 1 uid str!, 2 resourceVersion str!
# apps/v1
ControllerRevision: 1 metadata ObjectMeta, 2 data RawExtension, 3 revision int!
DaemonSet: 1 metadata ObjectMeta, 2 spec DaemonSetSpec, 3 status DaemonSetStatus
DaemonSetCondition: 1 type str!, 2 status str!, 3 lastTransitionTime Time, 4 reason str,
  5 message str
DaemonSetSpec: 1 selector LabelSelector, 2 template PodTemplateSpec,
  3 updateStrategy DaemonSetUpdateStrategy, 4 minReadySeconds int, 6 revisionHistoryLimit int!
DaemonSetStatus: 1 currentNumberScheduled int!, 2 numberMisscheduled int!,
  3 desiredNumberScheduled int!, 4 numberReady int!, 5 observedGeneration int,
  6 updatedNumberScheduled int, 7 numberAvailable int, 8 numberUnavailable int,
  9 collisionCount int!, 10 conditions []DaemonSetCondition
DaemonSetUpdateStrategy: 1 type str, 2 rollingUpdate RollingUpdateDaemonSet
Deployment: 1 metadata ObjectMeta, 2 spec DeploymentSpec, 3 status DeploymentStatus
DeploymentCondition: 1 type str!, 2 status str!, 6 lastUpdateTime Time, 7 lastTransitionTime Time,
  4 reason str, 5 message str
DeploymentSpec: 1 replicas int!, 2 selector LabelSelector, 3 template PodTemplateSpec,
  4 strategy DeploymentStrategy, 5 minReadySeconds int, 6 revisionHistoryLimit int!, 7 paused bool,
  9 progressDeadlineSeconds int!, 10 podReplacementPolicy str!
DeploymentStatus: 1 observedGeneration int, 2 replicas int, 3 updatedReplicas int,
  7 readyReplicas int, 4 availableReplicas int, 5 unavailableReplicas int,
  9 terminatingReplicas int!, 6 conditions []DeploymentCondition, 8 collisionCount int!
DeploymentStrategy: 1 type str, 2 rollingUpdate RollingUpdateDeployment
ReplicaSet: 1 metadata ObjectMeta, 2 spec ReplicaSetSpec, 3 status ReplicaSetStatus
ReplicaSetCondition: 1 type str!, 2 status str!, 3 lastTransitionTime Time, 4 reason str,
  5 message str
ReplicaSetSpec: 1 replicas int!, 4 minReadySeconds int, 2 selector LabelSelector,
  3 template PodTemplateSpec
ReplicaSetStatus: 1 replicas int!, 2 fullyLabeledReplicas int, 4 readyReplicas int,
  5 availableReplicas int, 7 terminatingReplicas int!, 3 observedGeneration int,
  6 conditions []ReplicaSetCondition
RollingUpdateDaemonSet: 1 maxUnavailable IntOrString, 2 maxSurge IntOrString
RollingUpdateDeployment: 1 maxUnavailable IntOrString, 2 maxSurge IntOrString
RollingUpdateStatefulSetStrategy: 1 partition int!, 2 maxUnavailable IntOrString
StatefulSet: 1 metadata ObjectMeta, 2 spec StatefulSetSpec, 3 status StatefulSetStatus
StatefulSetCondition: 1 type str!, 2 status str!, 3 lastTransitionTime Time, 4 reason str,
  5 message str
StatefulSetOrdinals: 1 start int
StatefulSetPersistentVolumeClaimRetentionPolicy: 1 whenDeleted str, 2 whenScaled str
StatefulSetSpec: 1 replicas int!, 2 selector LabelSelector, 3 template PodTemplateSpec,
  4 volumeClaimTemplates []PersistentVolumeClaim, 5 serviceName str, 6 podManagementPolicy str,
  7 updateStrategy StatefulSetUpdateStrategy, 8 revisionHistoryLimit int!, 9 minReadySeconds int,
  10 persistentVolumeClaimRetentionPolicy StatefulSetPersistentVolumeClaimRetentionPolicy,
  11 ordinals StatefulSetOrdinals
StatefulSetStatus: 1 observedGeneration int, 2 replicas int!, 3 readyReplicas int,
  4 currentReplicas int, 5 updatedReplicas int, 6 currentRevision str, 7 updateRevision str,
  9 collisionCount int!, 10 conditions []StatefulSetCondition, 11 availableReplicas int!
StatefulSetUpdateStrategy: 1 type str, 2 rollingUpdate RollingUpdateStatefulSetStrategy
# batch/v1
Job: 1 metadata ObjectMeta, 2 spec JobSpec, 3 status JobStatus
PodFailurePolicyOnExitCodesRequirement: 1 containerName str!, 2 operator str!, 3 values []int
PodFailurePolicyOnPodConditionsPattern: 1 type str!, 2 status str!
PodFailurePolicyRule: 1 action str!, 2 onExitCodes PodFailurePolicyOnExitCodesRequirement,
  3 onPodConditions []PodFailurePolicyOnPodConditionsPattern
PodFailurePolicy: 1 rules []PodFailurePolicyRule
JobSpec: 1 parallelism int!, 2 completions int!, 3 activeDeadlineSeconds int!,
  11 podFailurePolicy PodFailurePolicy, 7 backoffLimit int!, 12 backoffLimitPerIndex int!,
  13 maxFailedIndexes int!, 4 selector LabelSelector, 5 manualSelector bool!,
  6 template PodTemplateSpec, 8 ttlSecondsAfterFinished int!, 9 completionMode str!,
  10 suspend bool!, 14 podReplacementPolicy str!, 15 managedBy str!
JobStatus: 1 conditions []JobCondition, 2 startTime Time, 3 completionTime Time, 4 active int,
  5 succeeded int, 6 failed int, 7 completedIndexes str,
  8 uncountedTerminatedPods UncountedTerminatedPods, 9 ready int!
UncountedTerminatedPods: 1 succeeded []str, 2 failed []str
JobCondition: 1 type str!, 2 status str!, 3 lastProbeTime Time, 4 lastTransitionTime Time,
  5 reason str, 6 message str
JobTemplateSpec: 1 metadata ObjectMeta, 2 spec JobSpec
CronJob: 1 metadata ObjectMeta, 2 spec CronJobSpec, 3 status CronJobStatus
CronJobSpec: 1 schedule str!, 8 timeZone str!, 2 startingDeadlineSeconds int!,
  3 concurrencyPolicy str, 4 suspend bool!, 5 jobTemplate JobTemplateSpec,
  6 successfulJobsHistoryLimit int!, 7 failedJobsHistoryLimit int!
CronJobStatus: 1 active []ObjectReference, 4 lastScheduleTime Time, 5 lastSuccessfulTime Time
# rbac.authorization.k8s.io/v1, policy/v1, networking.k8s.io/v1, scheduling.k8s.io/v1,
# coordination.k8s.io/v1, authentication.k8s.io/v1, authorization.k8s.io/v1, autoscaling/v1
Scale: 1 metadata ObjectMeta, 2 spec ScaleSpec, 3 status ScaleStatus
ScaleSpec: 1 replicas int
ScaleStatus: 1 replicas int!, 2 selector str
AggregationRule: 1 clusterRoleSelectors []LabelSelector
ClusterRole: 1 metadata ObjectMeta, 2 rules []PolicyRule, 3 aggregationRule AggregationRule
ClusterRoleBinding: 1 metadata ObjectMeta, 2 subjects []Subject, 3 roleRef RoleRef
PolicyRule: 1 verbs []str, 2 apiGroups []str, 3 resources []str, 4 resourceNames []str,
  5 nonResourceURLs []str
Role: 1 metadata ObjectMeta, 2 rules []PolicyRule
RoleBinding: 1 metadata ObjectMeta, 2 subjects []Subject, 3 roleRef RoleRef
RoleRef: 1 apiGroup str!, 2 kind str!, 3 name str!
Subject: 1 kind str!, 2 apiGroup str, 3 name str!, 4 namespace str
PodDisruptionBudget: 1 metadata ObjectMeta, 2 spec PodDisruptionBudgetSpec,
  3 status PodDisruptionBudgetStatus
PodDisruptionBudgetSpec: 1 minAvailable IntOrString, 2 selector LabelSelector,
  3 maxUnavailable IntOrString, 4 unhealthyPodEvictionPolicy str!
PodDisruptionBudgetStatus: 1 observedGeneration int, 2 disruptedPods {Time},
  3 disruptionsAllowed int!, 4 currentHealthy int!, 5 desiredHealthy int!, 6 expectedPods int!,
  7 conditions []Condition
Eviction: 1 metadata ObjectMeta, 2 deleteOptions DeleteOptions
Ingress: 1 metadata ObjectMeta, 2 spec IngressSpec, 3 status IngressStatus
IngressSpec: 4 ingressClassName str!, 1 defaultBackend IngressBackend, 2 tls []IngressTLS,
  3 rules []IngressRule
IngressBackend: 4 service IngressServiceBackend, 3 resource TypedLocalObjectReference
IngressServiceBackend: 1 name str!, 2 port ServiceBackendPort
ServiceBackendPort: 1 name str, 2 number int
IngressTLS: 1 hosts []str, 2 secretName str
IngressRule: 1 host str, 2 ingressRuleValue IngressRuleValue^
IngressRuleValue: 1 http HTTPIngressRuleValue
HTTPIngressRuleValue: 1 paths []HTTPIngressPath
HTTPIngressPath: 1 path str, 3 pathType str!, 2 backend IngressBackend
IngressStatus: 1 loadBalancer IngressLoadBalancerStatus
IngressLoadBalancerStatus: 1 ingress []IngressLoadBalancerIngress
IngressLoadBalancerIngress: 1 ip str, 2 hostname str, 4 ports []IngressPortStatus
IngressPortStatus: 1 port int!, 2 protocol str!, 3 error str!
IngressClass: 1 metadata ObjectMeta, 2 spec IngressClassSpec
IngressClassSpec: 1 controller str, 2 parameters IngressClassParametersReference
IngressClassParametersReference: 1 apiGroup str!, 2 kind str!, 3 name str!, 4 scope str!,
  5 namespace str!
NetworkPolicy: 1 metadata ObjectMeta, 2 spec NetworkPolicySpec
NetworkPolicySpec: 1 podSelector LabelSelector, 2 ingress []NetworkPolicyIngressRule,
  3 egress []NetworkPolicyEgressRule, 4 policyTypes []str
NetworkPolicyIngressRule: 1 ports []NetworkPolicyPort, 2 from []NetworkPolicyPeer
NetworkPolicyEgressRule: 1 ports []NetworkPolicyPort, 2 to []NetworkPolicyPeer
NetworkPolicyPeer: 1 podSelector LabelSelector, 2 namespaceSelector LabelSelector, 3 ipBlock IPBlock
NetworkPolicyPort: 1 protocol str!, 2 port IntOrString, 3 endPort int!
IPBlock: 1 cidr str!, 2 except []str
PriorityClass: 1 metadata ObjectMeta, 2 value int!, 3 globalDefault bool, 4 description str,
  5 preemptionPolicy str!
Lease: 1 metadata ObjectMeta, 2 spec LeaseSpec
LeaseSpec: 1 holderIdentity str!, 2 leaseDurationSeconds int!, 3 acquireTime MicroTime!,
  4 renewTime MicroTime!, 5 leaseTransitions int!, 6 strategy str!, 7 preferredHolder str!
BoundObjectReference: 1 kind str, 2 apiVersion str, 3 name str, 4 uid str
TokenRequest: 1 metadata ObjectMeta, 2 spec TokenRequestSpec, 3 status TokenRequestStatus
TokenRequestSpec: 1 audiences []str, 4 expirationSeconds int!, 3 boundObjectRef BoundObjectReference
TokenRequestStatus: 1 token str!, 2 expirationTimestamp Time!
TokenReview: 1 metadata ObjectMeta, 2 spec TokenReviewSpec, 3 status TokenReviewStatus
TokenReviewSpec: 1 token str, 2 audiences []str
TokenReviewStatus: 1 authenticated bool, 2 user UserInfo, 4 audiences []str, 3 error str
UserInfo: 1 username str, 2 uid str, 3 groups []str, 4 extra {ExtraValue}
SelfSubjectReview: 1 metadata ObjectMeta, 2 status SelfSubjectReviewStatus
SelfSubjectReviewStatus: 1 userInfo UserInfo
FieldSelectorAttributes: 1 rawSelector str, 2 requirements []FieldSelectorRequirement
FieldSelectorRequirement: 1 key str!, 2 operator str!, 3 values []str
LabelSelectorAttributes: 1 rawSelector str, 2 requirements []LabelSelectorRequirement
LocalSubjectAccessReview: 1 metadata ObjectMeta, 2 spec SubjectAccessReviewSpec,
  3 status SubjectAccessReviewStatus
NonResourceAttributes: 1 path str, 2 verb str
NonResourceRule: 1 verbs []str, 2 nonResourceURLs []str
ResourceAttributes: 1 namespace str, 2 verb str, 3 group str, 4 version str, 5 resource str,
  6 subresource str, 7 name str, 8 fieldSelector FieldSelectorAttributes,
  9 labelSelector LabelSelectorAttributes
ResourceRule: 1 verbs []str, 2 apiGroups []str, 3 resources []str, 4 resourceNames []str
SelfSubjectAccessReview: 1 metadata ObjectMeta, 2 spec SelfSubjectAccessReviewSpec,
  3 status SubjectAccessReviewStatus
SelfSubjectAccessReviewSpec: 1 resourceAttributes ResourceAttributes,
  2 nonResourceAttributes NonResourceAttributes
SelfSubjectRulesReview: 1 metadata ObjectMeta, 2 spec SelfSubjectRulesReviewSpec,
  3 status SubjectRulesReviewStatus
SelfSubjectRulesReviewSpec: 1 namespace str
SubjectAccessReview: 1 metadata ObjectMeta, 2 spec SubjectAccessReviewSpec,
  3 status SubjectAccessReviewStatus
SubjectAccessReviewSpec: 1 resourceAttributes ResourceAttributes,
  2 nonResourceAttributes NonResourceAttributes, 3 user str, 4 groups []str, 5 extra {ExtraValue},
  6 uid str
SubjectAccessReviewStatus: 1 allowed bool!, 4 denied bool, 2 reason str, 3 evaluationError str
SubjectRulesReviewStatus: 1 resourceRules []ResourceRule, 2 nonResourceRules []NonResourceRule,
  3 incomplete bool!, 4 evaluationError str
"""
