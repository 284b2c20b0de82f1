//! The archive in an object store (`--archive-url`): a directory (`file:///var/lib/relay/archive`)
//! or an S3-compatible bucket (`s3://bucket/prefix`), through the `object_store` crate. Without
//! it the archive is the store's own database.
//!
//! One object per invoice and kind, `invoices/<invoice id>/<kind>.xml` under the prefix: a put is
//! an idempotent overwrite (the same invoice and kind always carry the same bytes), so a retried
//! write after a crash is harmless.

use std::sync::Arc;

use async_trait::async_trait;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use uuid::Uuid;

use super::{Archive, ArchiveKind};

/// An archive in an object store.
#[derive(Debug, Clone)]
pub struct ObjectArchive {
    objects: Arc<dyn ObjectStore>,
    prefix: Path,
    /// Where it is, for logs (no credentials: they come from the environment).
    location: String,
}

/// An archive URL that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveUrlError {
    /// Not `file://` or `s3://`.
    #[error("unsupported archive URL scheme `{0}` (use file:///path or s3://bucket/prefix)")]
    Scheme(String),
    /// Not a URL.
    #[error("invalid archive URL: {0}")]
    Url(#[from] url::ParseError),
    /// The object store refused the configuration.
    #[error("archive: {0}")]
    Store(#[from] object_store::Error),
    /// A `file://` directory that cannot be created.
    #[error("archive directory {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl ObjectArchive {
    /// Opens the archive a URL names. S3 credentials, region and endpoint come from the usual
    /// `AWS_*` variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL` for an S3-compatible server, `AWS_ALLOW_HTTP=true` for one without TLS).
    pub fn open(url: &str) -> Result<Self, ArchiveUrlError> {
        let parsed = url::Url::parse(url)?;
        let (objects, prefix): (Arc<dyn ObjectStore>, Path) = match parsed.scheme() {
            "file" => {
                let dir = parsed.path();
                std::fs::create_dir_all(dir).map_err(|source| ArchiveUrlError::Directory {
                    path: dir.to_owned(),
                    source,
                })?;
                let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
                (Arc::new(fs), Path::default())
            }
            "s3" => {
                let bucket = parsed.host_str().unwrap_or_default();
                let s3 = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()?;
                (Arc::new(s3), Path::from(parsed.path().trim_matches('/')))
            }
            other => return Err(ArchiveUrlError::Scheme(other.to_owned())),
        };
        let location = format!(
            "{}://{}{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or_default(),
            parsed.path()
        );
        Ok(ObjectArchive {
            objects,
            prefix,
            location,
        })
    }

    /// Where the archive is (scheme, bucket or directory, prefix).
    pub fn location(&self) -> &str {
        &self.location
    }

    fn path(&self, invoice_id: Uuid, kind: ArchiveKind) -> Path {
        self.prefix
            .child("invoices")
            .child(invoice_id.to_string())
            .child(format!("{}.xml", kind.as_str()))
    }
}

#[async_trait]
impl Archive for ObjectArchive {
    async fn put(&self, invoice_id: Uuid, kind: ArchiveKind, xml: &[u8]) -> anyhow::Result<()> {
        let path = self.path(invoice_id, kind);
        self.objects
            .put(&path, PutPayload::from(xml.to_vec()))
            .await
            .map_err(|e| anyhow::anyhow!("archiving {path}: {e}"))?;
        Ok(())
    }

    async fn get(&self, invoice_id: Uuid, kind: ArchiveKind) -> anyhow::Result<Option<Vec<u8>>> {
        let path = self.path(invoice_id, kind);
        match self.objects.get(&path).await {
            Ok(found) => Ok(Some(found.bytes().await?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(anyhow::anyhow!("reading {path} from the archive: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_directory_archive_keeps_each_kind_and_overwrites_idempotently() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let url = format!("file://{}", dir.path().join("archive").display());
        let archive = ObjectArchive::open(&url)?;
        let id = Uuid::now_v7();
        assert_eq!(archive.get(id, ArchiveKind::Signed).await?, None);
        archive.put(id, ArchiveKind::Signed, b"<Invoice/>").await?;
        archive.put(id, ArchiveKind::Signed, b"<Invoice/>").await?;
        archive
            .put(id, ArchiveKind::Cleared, b"<Invoice>cleared</Invoice>")
            .await?;
        assert_eq!(
            archive.get(id, ArchiveKind::Signed).await?.as_deref(),
            Some(&b"<Invoice/>"[..])
        );
        assert_eq!(
            archive.get(id, ArchiveKind::Cleared).await?.as_deref(),
            Some(&b"<Invoice>cleared</Invoice>"[..])
        );
        assert!(dir.path().join(format!("archive/invoices/{id}/signed.xml")).is_file());
        Ok(())
    }

    #[test]
    fn other_schemes_are_refused() {
        let err = ObjectArchive::open("ftp://example/x").err().map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("unsupported archive URL scheme `ftp`"));
    }
}
