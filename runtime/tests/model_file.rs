//! Damaged model files are rejected with the error that names the damage.

use needle_runtime::format::{checksum, FORMAT_VERSION, HEADER_LEN};
use needle_runtime::{LoadError, Model};

fn fixture() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/bgl-default.needle"
    ))
    .unwrap()
}

/// Recomputes the trailer so a change inside the payload reaches the decoder.
fn reseal(bytes: &mut [u8]) {
    let n = bytes.len();
    let crc = checksum(&bytes[HEADER_LEN..n - 4]);
    bytes[n - 4..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn loads_the_bundled_model() {
    let bytes = fixture();
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.config().window, 32);
    assert!(model.threshold() > 0.0 && model.threshold() < 1.0);
}

#[test]
fn rejects_truncated_model_file() {
    let bytes = fixture();
    for len in [
        0,
        3,
        HEADER_LEN - 1,
        HEADER_LEN,
        HEADER_LEN + 100,
        bytes.len() - 1,
    ] {
        match Model::from_bytes(&bytes[..len]) {
            Err(LoadError::Truncated { needed, got }) => {
                assert_eq!(got, len);
                assert!(needed > len);
            }
            other => panic!("{len} bytes: {other:?}"),
        }
    }
}

#[test]
fn rejects_bit_flipped_payload_by_checksum() {
    let bytes = fixture();
    for at in [
        HEADER_LEN,
        HEADER_LEN + 17,
        bytes.len() / 2,
        bytes.len() - 5,
    ] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        assert!(
            matches!(Model::from_bytes(&bad), Err(LoadError::Checksum { .. })),
            "flip at {at}"
        );
    }
}

#[test]
fn rejects_wrong_version() {
    let mut bad = fixture();
    bad[4..6].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert_eq!(
        Model::from_bytes(&bad).unwrap_err(),
        LoadError::UnsupportedVersion {
            found: FORMAT_VERSION + 1,
            supported: FORMAT_VERSION
        }
    );
}

/// A version-1 file (before familiarity) names the fix: export it again.
#[test]
fn an_older_format_says_to_export_again() {
    let mut old = fixture();
    old[4..6].copy_from_slice(&1u16.to_le_bytes());
    let err = Model::from_bytes(&old).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("model file format version 1 is not supported (this runtime reads version {FORMAT_VERSION}); export it again from its checkpoint with this release's `needle-train export`")
    );
}

#[test]
fn familiarity_counts_lines_with_mostly_unknown_tokens() {
    let bytes = fixture();
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = vec![0f32; model.scratch_len()];
    let mut scorer = needle_runtime::BagScorer::new(&model, &mut scratch).unwrap();
    let bgl: [&[u8]; 2] = [
        b"1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
        b"1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
    ];
    let score = scorer.score_lines(&bgl);
    assert_eq!((score.unfamiliar_lines, score.is_unfamiliar()), (0, false));
    let foreign: [&[u8]; 3] = [
        b"2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
        b"2015-07-29 19:04:29,071 - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@679] - Interrupted while waiting for message on queue",
        b"1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
    ];
    let score = scorer.score_lines(&foreign);
    assert_eq!((score.unfamiliar_lines, score.is_unfamiliar()), (2, true));
    // Padding is not counted, and the count starts again with each bag.
    let score = scorer.score_lines(&bgl[..1]);
    assert_eq!((score.lines, score.unfamiliar_lines), (1, 0));
}

#[test]
fn rejects_wrong_magic() {
    let mut bad = fixture();
    bad[0] = b'X';
    assert!(matches!(
        Model::from_bytes(&bad),
        Err(LoadError::BadMagic { .. })
    ));
}

#[test]
fn rejects_trailing_bytes() {
    let mut bad = fixture();
    bad.extend_from_slice(b"junk");
    assert_eq!(
        Model::from_bytes(&bad).unwrap_err(),
        LoadError::TrailingBytes { extra: 4 }
    );
}

#[test]
fn rejects_inconsistent_configuration_behind_a_valid_checksum() {
    // The payload starts with the config: featurizer.buckets (varint), so
    // bumping its first byte breaks the embedding table's shape.
    let mut bad = fixture();
    bad[HEADER_LEN] ^= 0x01;
    reseal(&mut bad);
    let err = Model::from_bytes(&bad).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::Shape {
                tensor: "embedding",
                ..
            } | LoadError::Decode
        ),
        "{err:?}"
    );
}

#[test]
fn errors_read_as_sentences() {
    let e = LoadError::Checksum {
        expected: 1,
        actual: 2,
    };
    assert_eq!(
        e.to_string(),
        "model file is corrupted: checksum 0x00000002 does not match 0x00000001"
    );
}

#[test]
fn a_shape_error_names_what_it_counts() {
    use needle_runtime::format::{encode, ModelBody, TRAILER_LEN};
    let bytes = fixture();
    let mut body: ModelBody<'_> =
        postcard::from_bytes(&bytes[HEADER_LEN..bytes.len() - TRAILER_LEN]).unwrap();
    let layers = body.config.encoder_layers;
    body.config.encoder_layers = layers + 1;
    let err = Model::from_bytes(&encode(&body).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "model tensor layers has {layers} layers, expected {}",
            layers + 1
        )
    );
}
