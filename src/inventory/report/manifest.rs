//! `manifest.json` of an S3 Inventory report: what the data files are, their format, their
//! columns and their MD5 checksums.

use super::ReportError;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

/// The manifest as S3 writes it (unknown fields are ignored: S3 adds some over time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub source_bucket: String,
    #[serde(default)]
    pub destination_bucket: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub creation_timestamp: String,
    pub file_format: String,
    pub file_schema: String,
    pub files: Vec<DataFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    pub key: String,
    pub size: u64,
    #[serde(rename = "MD5checksum")]
    pub md5: String,
}

/// Data file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    CsvGz,
    Parquet,
}

impl Manifest {
    /// When the report was written (`creationTimestamp`, milliseconds since the epoch).
    pub fn created(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let millis = self.creation_timestamp.trim().parse::<i64>().ok()?;
        chrono::DateTime::from_timestamp_millis(millis)
    }

    /// Parses `bytes` (from `key`), verifying them against `checksum` (the content of
    /// `manifest.checksum`) when there is one.
    pub fn parse(key: &str, bytes: &[u8], checksum: Option<&[u8]>) -> Result<Self, ReportError> {
        if let Some(checksum) = checksum {
            let expected = String::from_utf8_lossy(checksum)
                .trim()
                .to_ascii_lowercase();
            let found = hex::encode(Md5::digest(bytes));
            if expected != found {
                return Err(ReportError::Checksum {
                    file: key.to_string(),
                    expected,
                    found,
                });
            }
        }
        serde_json::from_slice(bytes).map_err(|e| ReportError::Manifest {
            key: key.to_string(),
            message: e.to_string(),
        })
    }

    pub fn format(&self, key: &str) -> Result<Format, ReportError> {
        match self.file_format.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::CsvGz),
            "parquet" => Ok(Format::Parquet),
            _ => Err(ReportError::Unsupported {
                key: key.to_string(),
                format: self.file_format.clone(),
            }),
        }
    }

    /// The column names of a CSV report, in file order.
    pub fn csv_columns(&self) -> Vec<String> {
        self.file_schema
            .split(',')
            .map(|c| c.trim().to_string())
            .collect()
    }

    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// The report folders directly under an inventory configuration's prefix are named for the
/// time the report was started, `YYYY-MM-DDTHH-MMZ`; they sort in time order.
pub fn is_report_folder(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 17
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 | 13 => *c == b'-',
            10 => *c == b'T',
            16 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = r#"{
        "sourceBucket": "example-source-bucket",
        "destinationBucket": "arn:aws:s3:::example-inventory-destination-bucket",
        "version": "2016-11-30",
        "creationTimestamp" : "1514944800000",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag",
        "files": [{"key": "inv/data/939c.csv.gz", "size": 2147483647, "MD5checksum": "f11166069f1990abeb9c97ace9cdfabc"}]
    }"#;

    #[test]
    fn a_csv_manifest_gives_format_columns_and_files() {
        let m = Manifest::parse("m.json", CSV.as_bytes(), None).unwrap();
        assert_eq!(m.format("m.json").unwrap(), Format::CsvGz);
        assert_eq!(m.csv_columns()[..3], ["Bucket", "Key", "VersionId"]);
        assert_eq!(m.files[0].md5, "f11166069f1990abeb9c97ace9cdfabc");
        assert_eq!(m.total_size(), 2147483647);
    }

    #[test]
    fn the_manifest_checksum_is_verified_when_present() {
        let good = hex::encode(Md5::digest(CSV.as_bytes()));
        assert!(Manifest::parse(
            "m.json",
            CSV.as_bytes(),
            Some(format!("{good}\n").as_bytes())
        )
        .is_ok());
        let err = Manifest::parse(
            "m.json",
            CSV.as_bytes(),
            Some(b"00000000000000000000000000000000"),
        )
        .unwrap_err();
        assert!(matches!(err, ReportError::Checksum { .. }), "{err}");
    }

    #[test]
    fn orc_is_refused_clearly() {
        let orc = CSV.replace("\"CSV\"", "\"ORC\"");
        let m = Manifest::parse("m.json", orc.as_bytes(), None).unwrap();
        let err = m.format("m.json").unwrap_err().to_string();
        assert!(
            err.contains("ORC") && err.contains("not supported"),
            "{err}"
        );
    }

    #[test]
    fn report_folders_are_recognised_by_their_timestamp_name() {
        assert!(is_report_folder("2016-11-06T21-32Z"));
        for other in ["data", "hive", "2016-11-06T21-32", "2016-11-06T21:32Z"] {
            assert!(!is_report_folder(other), "{other}");
        }
    }
}
