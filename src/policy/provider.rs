//! What each S3-compatible provider can do. Validation checks every rule against the capability
//! set of the storage it acts on, so a policy that cannot work fails before any request.

use super::wire::ConditionalDeleteWire as ConditionalDelete;
use super::wire::ProviderWire as Provider;
use std::fmt;

/// Storage classes a provider accepts in requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classes {
    /// Exactly these (the first is the default class).
    Only(&'static [&'static str]),
    /// Any class name: the set is configured by the operator (Ceph placement targets) or
    /// unknown (a generic endpoint).
    Configured,
}

/// One provider's capability set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub storage_classes: Classes,
    pub versioning: bool,
    pub object_lock: bool,
    pub legal_hold: bool,
    pub tagging: bool,
    pub list_object_versions: bool,
    /// Whether the server refuses a delete whose ETag condition no longer holds. Sending a
    /// condition to a server that ignores it deletes anyway (some do), so only providers known
    /// to enforce it get one; the others are HEADed and compared just before the delete.
    pub conditional_delete: ConditionalDelete,
    /// Evidence that the provider's servers ignore delete conditions, where it is known:
    /// validation then refuses `conditionalDelete: batch` or `single`, which would delete a
    /// changed object.
    pub drops_delete_conditions: Option<&'static str>,
    /// The per-prefix request rate the provider documents as safe to start at, which `apply`
    /// then adapts; `None` where none is documented (no client-side limit until SlowDown).
    pub prefix_requests_per_second: Option<u32>,
}

/// A capability a rule may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Changing an object's storage class (tier, archive with a class).
    StorageClass,
    Versioning,
    ObjectLock,
    LegalHold,
    Tagging,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::StorageClass => "storage classes",
            Capability::Versioning => "object versions (ListObjectVersions)",
            Capability::ObjectLock => "per-object Object Lock retention",
            Capability::LegalHold => "Object Lock legal hold",
            Capability::Tagging => "object tagging",
        })
    }
}

const AWS_CLASSES: &[&str] = &[
    "STANDARD",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
    "REDUCED_REDUNDANCY",
];

impl Provider {
    /// The provider's name as written in Storage documents.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::B2 => "b2",
            Provider::Minio => "minio",
            Provider::R2 => "r2",
            Provider::Gcs => "gcs",
            Provider::Ceph => "ceph",
            Provider::Garage => "garage",
            Provider::Generic => "generic",
        }
    }

    /// The built-in price table a Storage of this provider is costed with when it names none;
    /// `None` for self-hosted servers, whose costs are the operator's own.
    pub fn price_table(self) -> Option<&'static str> {
        match self {
            Provider::Aws => Some("aws-us-east-1"),
            Provider::B2 => Some("backblaze-b2"),
            Provider::R2 => Some("cloudflare-r2"),
            Provider::Gcs => Some("gcs-us-central1"),
            Provider::Minio | Provider::Ceph | Provider::Garage | Provider::Generic => None,
        }
    }

    /// What the provider's S3 API supports, from each provider's S3-compatibility docs.
    pub fn capabilities(self) -> Capabilities {
        let all = Capabilities {
            storage_classes: Classes::Configured,
            versioning: true,
            object_lock: true,
            legal_hold: true,
            tagging: true,
            list_object_versions: true,
            conditional_delete: ConditionalDelete::None,
            drops_delete_conditions: None,
            prefix_requests_per_second: None,
        };
        let none = Capabilities {
            storage_classes: Classes::Only(&["STANDARD"]),
            versioning: false,
            object_lock: false,
            legal_hold: false,
            tagging: false,
            list_object_versions: false,
            conditional_delete: ConditionalDelete::None,
            drops_delete_conditions: None,
            prefix_requests_per_second: None,
        };
        match self {
            // AWS enforces the per-object ETag of DeleteObjects on general purpose buckets
            // (since 2025-09), against the current version. S3 documents 3,500 writes per
            // second per partitioned prefix, and scales a prefix under sustained load.
            Provider::Aws => Capabilities {
                storage_classes: Classes::Only(AWS_CLASSES),
                conditional_delete: ConditionalDelete::Batch,
                prefix_requests_per_second: Some(3500),
                ..all
            },
            // B2: one class; versions, Object Lock and legal hold, but no object tagging.
            Provider::B2 => Capabilities {
                storage_classes: Classes::Only(&["STANDARD"]),
                tagging: false,
                ..all
            },
            Provider::Minio => Capabilities {
                storage_classes: Classes::Only(&["STANDARD", "REDUCED_REDUNDANCY"]),
                ..all
            },
            // R2: Infrequent Access, but no versions, no per-object lock, no tagging.
            Provider::R2 => Capabilities {
                storage_classes: Classes::Only(&["STANDARD", "STANDARD_IA"]),
                ..none
            },
            // GCS's XML API: its own classes; versions and retention only through its own API.
            // Google documents about 1,000 writes per second to start, ramping up gradually.
            Provider::Gcs => Capabilities {
                storage_classes: Classes::Only(&["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"]),
                prefix_requests_per_second: Some(1000),
                ..none
            },
            Provider::Ceph => Capabilities {
                drops_delete_conditions: Some(
                    "Ceph 16.2's RADOS Gateway deleted an object whose ETag no longer matched \
                     If-Match",
                ),
                ..all
            },
            Provider::Generic => all,
            Provider::Garage => none,
        }
    }
}

/// The error for a rule that needs `capability` from `storage`, when its provider lacks it.
pub fn lacking(
    storage: &super::model::Storage,
    capability: Capability,
    what: &str,
) -> Option<String> {
    let has = storage.provider.capabilities().has(capability);
    (!has).then(|| {
        format!(
            "{what} needs {capability}, which provider {} (storage {:?}) does not support",
            storage.provider.name(),
            storage.name
        )
    })
}

impl Capabilities {
    pub fn has(&self, capability: Capability) -> bool {
        match capability {
            Capability::StorageClass => {
                !matches!(self.storage_classes, Classes::Only(classes) if classes.len() < 2)
            }
            Capability::Versioning => self.versioning && self.list_object_versions,
            Capability::ObjectLock => self.object_lock,
            Capability::LegalHold => self.legal_hold,
            Capability::Tagging => self.tagging,
        }
    }

    /// Whether `class` can be requested; `Err` lists the classes that can.
    pub fn check_class(&self, class: &str) -> Result<(), String> {
        match self.storage_classes {
            Classes::Configured => Ok(()),
            Classes::Only(classes) if classes.contains(&class) => Ok(()),
            Classes::Only(classes) => Err(classes.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_sets_follow_the_providers() {
        assert!(Provider::Aws.capabilities().has(Capability::StorageClass));
        assert!(!Provider::B2.capabilities().has(Capability::StorageClass));
        assert!(!Provider::B2.capabilities().has(Capability::Tagging));
        assert!(Provider::B2.capabilities().has(Capability::ObjectLock));
        assert!(!Provider::R2.capabilities().has(Capability::ObjectLock));
        assert!(Provider::R2.capabilities().has(Capability::StorageClass));
        assert!(!Provider::Garage.capabilities().has(Capability::Versioning));
        let rate = |p: Provider| p.capabilities().prefix_requests_per_second;
        assert_eq!(rate(Provider::Aws), Some(3500));
        assert_eq!(
            rate(Provider::Minio),
            None,
            "no documented per-prefix limit"
        );
        assert_eq!(rate(Provider::Ceph), None);
        assert!(Provider::Aws
            .capabilities()
            .check_class("GLACIER_IR")
            .is_ok());
        let err = Provider::Minio
            .capabilities()
            .check_class("GLACIER")
            .unwrap_err();
        assert_eq!(err, "STANDARD, REDUCED_REDUNDANCY");
        assert!(Provider::Ceph
            .capabilities()
            .check_class("COLD-HDD")
            .is_ok());
    }

    #[test]
    fn only_aws_is_trusted_to_enforce_delete_conditions_by_default() {
        use ConditionalDelete::*;
        let of = |p: Provider| p.capabilities().conditional_delete;
        assert_eq!(of(Provider::Aws), Batch);
        for p in [
            Provider::B2,
            Provider::Minio,
            Provider::R2,
            Provider::Gcs,
            Provider::Ceph,
            Provider::Garage,
            Provider::Generic,
        ] {
            assert_eq!(of(p), None, "{}", p.name());
        }
    }
}
