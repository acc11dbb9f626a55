//! Real-looking lines of every format, detection, filling, and the parsers
//! of typed text. Expected instants come from jiff's own RFC 3339 parser
//! (or are hard-coded where the number is well known, like BGL's).

use super::*;
use jiff::Timestamp;

/// The instant of an RFC 3339 string, for expected values.
fn ms(rfc3339: &str) -> EpochMillis {
    rfc3339
        .parse::<Timestamp>()
        .expect("test timestamp")
        .as_millisecond()
}

fn utc(year: i16) -> TimeContext {
    TimeContext::new(TimeZone::UTC, year)
}

fn berlin() -> TimeContext {
    TimeContext::new(TimeZone::get("Europe/Berlin").expect("tzdb"), 2026)
}

fn reader(format: TimestampFormat, context: TimeContext) -> TimestampReader {
    TimestampReader::new(format, context).expect("reader")
}

/// Reads one line with a fresh reader.
fn read_one(format: TimestampFormat, context: TimeContext, line: &str) -> Option<EpochMillis> {
    reader(format, context).read(line.as_bytes())
}

fn lines(text: &str) -> Vec<&[u8]> {
    text.lines().map(str::as_bytes).collect()
}

// ---------------------------------------------------------------- ISO 8601

#[test]
fn iso8601_lines() {
    let cases = [
        ("2026-11-24T05:45:57Z app started", "2026-11-24T05:45:57Z"),
        ("2026-11-24 05:45:57 INFO app started", "2026-11-24T05:45:57Z"),
        // dpkg.log
        (
            "2025-06-24 14:36:32 status installed libc6:amd64 2.39-0ubuntu8.4",
            "2025-06-24T14:36:32Z",
        ),
        // ZooKeeper / log4j: comma before the milliseconds.
        (
            "2015-07-29 17:41:44,747 - INFO  [main:QuorumPeerConfig@101] - Reading configuration from: /etc/zookeeper/conf/zoo.cfg",
            "2015-07-29T17:41:44.747Z",
        ),
        (
            "2026-11-24T05:45:57.123456+01:00 web01 app[12]: ok",
            "2026-11-24T04:45:57.123456Z",
        ),
        ("2026-11-24T05:45:57+0100 ok", "2026-11-24T04:45:57Z"),
        ("2026-11-24T05:45:57-05 ok", "2026-11-24T10:45:57Z"),
        ("2026-11-24T05:45:57.5Z", "2026-11-24T05:45:57.5Z"),
        // Python logging / Kafka.
        (
            "[2026-11-24 05:45:57,123] INFO [KafkaServer id=0] started (kafka.server.KafkaServer)",
            "2026-11-24T05:45:57.123Z",
        ),
        // A zone one space after the time (git, some Java layouts).
        ("2026-11-24 05:45:57 +0100 commit", "2026-11-24T04:45:57Z"),
        ("2026-11-24 05:45:57 UTC kernel: x", "2026-11-24T05:45:57Z"),
        // nginx error log and Go's log package.
        (
            "2026/11/24 05:45:57 [error] 1234#0: *1 open() \"/x\" failed (2: No such file or directory)",
            "2026-11-24T05:45:57Z",
        ),
        ("   2026-11-24 05:45:57 indented", "2026-11-24T05:45:57Z"),
        ("2026-11-24 05:45:57: colon after", "2026-11-24T05:45:57Z"),
        ("2026-11-24 05:45:57", "2026-11-24T05:45:57Z"),
        // Leap second: read as :59.
        ("2016-12-31T23:59:60Z leap", "2016-12-31T23:59:59Z"),
        // More than nine fraction digits: the rest is dropped.
        ("2026-11-24T05:45:57.1234567891Z", "2026-11-24T05:45:57.123456789Z"),
    ];
    for (line, expected) in cases {
        assert_eq!(
            read_one(TimestampFormat::Iso8601, utc(2026), line),
            Some(ms(expected)),
            "{line}"
        );
    }
}

#[test]
fn iso8601_rejects() {
    for line in [
        "2026-13-01 00:00:00 bad month",
        "2026-02-30 00:00:00 bad day",
        "2026-11-24 25:00:00 bad hour",
        "2026-11-24 05:45:57abc",
        "2026-11-24 05:45:579",
        "2026-11-24 05:45 no seconds",
        "2026-11-24T05:45:57Zulu",
        "2026-11/24 05:45:57 mixed separators",
        "20261124 054557",
        "INFO 2026-11-24 05:45:57 not at the start",
        "1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872",
        "",
    ] {
        assert_eq!(
            read_one(TimestampFormat::Iso8601, utc(2026), line),
            None,
            "{line}"
        );
    }
}

#[test]
fn zoneless_times_are_in_the_context_zone() {
    // Berlin is UTC+1 in November: the same civil time is an hour earlier in UTC.
    let line = "2026-11-24 05:45:57 INFO x";
    let in_utc = read_one(TimestampFormat::Iso8601, utc(2026), line).expect("utc");
    let in_berlin = read_one(TimestampFormat::Iso8601, berlin(), line).expect("berlin");
    assert_eq!(in_utc - in_berlin, 3_600_000);
    assert_eq!(in_berlin, ms("2026-11-24T04:45:57Z"));
    // A written zone wins over the context's.
    assert_eq!(
        read_one(TimestampFormat::Iso8601, berlin(), "2026-11-24T05:45:57Z x"),
        Some(ms("2026-11-24T05:45:57Z"))
    );
    // Summer time: UTC+2.
    assert_eq!(
        read_one(TimestampFormat::Iso8601, berlin(), "2026-07-01 12:00:00 x"),
        Some(ms("2026-07-01T10:00:00Z"))
    );
    // A civil time skipped by the spring change takes the later offset's
    // reading ("compatible"); one repeated in autumn takes the first.
    assert_eq!(
        read_one(
            TimestampFormat::Iso8601,
            berlin(),
            "2026-03-29 02:30:00 gap"
        ),
        Some(ms("2026-03-29T01:30:00Z"))
    );
    assert_eq!(
        read_one(
            TimestampFormat::Iso8601,
            berlin(),
            "2026-10-25 02:30:00 fold"
        ),
        Some(ms("2026-10-25T00:30:00Z"))
    );
    // HDFS and RFC 3164 lines are zoneless too.
    assert_eq!(
        read_one(TimestampFormat::Hdfs, berlin(), "081109 203518 143 INFO x"),
        Some(ms("2008-11-09T19:35:18Z"))
    );
    assert_eq!(
        read_one(TimestampFormat::Rfc3164, berlin(), "Nov 24 05:45:57 host x"),
        Some(ms("2026-11-24T04:45:57Z"))
    );
}

// ---------------------------------------------------------------- syslog

#[test]
fn rfc5424_lines() {
    // The examples of RFC 5424 section 6.5.
    assert_eq!(
        read_one(
            TimestampFormat::Rfc5424,
            utc(2026),
            "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed for lonvick on /dev/pts/8"
        ),
        Some(ms("2003-10-11T22:14:15.003Z"))
    );
    assert_eq!(
        read_one(
            TimestampFormat::Rfc5424,
            utc(2026),
            "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts."
        ),
        Some(ms("2003-08-24T12:14:15.000003Z"))
    );
    // NILVALUE: a header without a time.
    assert_eq!(
        read_one(
            TimestampFormat::Rfc5424,
            utc(2026),
            "<34>1 - mymachine su - ID47 - msg"
        ),
        None
    );
    for line in [
        "<34>2003-10-11T22:14:15.003Z no version",
        "<34>0 2003-10-11T22:14:15.003Z version 0",
        "<34>1 2003-10-11T22:14:15.003Zmymachine",
        "<34>1 -x host",
        "<9999>1 2003-10-11T22:14:15.003Z host",
        "2003-10-11T22:14:15.003Z no header",
    ] {
        assert_eq!(
            read_one(TimestampFormat::Rfc5424, utc(2026), line),
            None,
            "{line}"
        );
    }
}

#[test]
fn rfc3164_lines() {
    let cases = [
        (
            "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
            "2026-10-11T22:14:15Z",
        ),
        (
            "Nov 24 05:45:57 web01 sshd[1234]: Accepted publickey for root from 10.0.0.1 port 22 ssh2",
            "2026-11-24T05:45:57Z",
        ),
        ("Nov  4 05:45:57 web01 kernel: [    0.000000] Linux version 6.8", "2026-11-04T05:45:57Z"),
        ("<13> Nov 4 05:45:57 web01 x", "2026-11-04T05:45:57Z"),
        ("nov 24 05:45:57.250 web01 x", "2026-11-24T05:45:57.25Z"),
    ];
    for (line, expected) in cases {
        assert_eq!(
            read_one(TimestampFormat::Rfc3164, utc(2026), line),
            Some(ms(expected)),
            "{line}"
        );
    }
    for line in [
        "November 24 05:45:57 full month name",
        "Nov 24 05:45 no seconds",
        "Nov 31 05:45:57 no such day",
        "Nov   4 05:45:57 three spaces",
        "Foo 24 05:45:57 x",
        "<34>1 2003-10-11T22:14:15.003Z rfc5424",
    ] {
        assert_eq!(
            read_one(TimestampFormat::Rfc3164, utc(2026), line),
            None,
            "{line}"
        );
    }
}

#[test]
fn rfc3164_year_rolls_over_forward_only() {
    let mut syslog = reader(TimestampFormat::Rfc3164, utc(2025));
    let mut read = |line: &str| syslog.read(line.as_bytes());
    assert_eq!(
        read("Dec 31 23:59:58 h a"),
        Some(ms("2025-12-31T23:59:58Z"))
    );
    // An unreadable line does not move the year.
    assert_eq!(read("    at com.example.Main(Main.java:1)"), None);
    // December, then January: the next year.
    assert_eq!(
        read("Jan  1 00:00:01 h b"),
        Some(ms("2026-01-01T00:00:01Z"))
    );
    // Later months stay in it, and going back by 6 months or less is not a
    // new year (out-of-order lines).
    assert_eq!(
        read("Jul  1 00:00:00 h c"),
        Some(ms("2026-07-01T00:00:00Z"))
    );
    assert_eq!(
        read("Jan  2 00:00:00 h d"),
        Some(ms("2026-01-02T00:00:00Z"))
    );
    // January, then December: the year never goes back.
    assert_eq!(
        read("Dec  2 00:00:00 h e"),
        Some(ms("2026-12-02T00:00:00Z"))
    );
    assert_eq!(
        read("Feb  2 00:00:00 h f"),
        Some(ms("2027-02-02T00:00:00Z"))
    );
}

#[test]
fn rfc3164_leap_day_depends_on_the_year() {
    assert_eq!(
        read_one(TimestampFormat::Rfc3164, utc(2025), "Feb 29 00:00:00 h x"),
        None
    );
    assert_eq!(
        read_one(TimestampFormat::Rfc3164, utc(2024), "Feb 29 00:00:00 h x"),
        Some(ms("2024-02-29T00:00:00Z"))
    );
}

// ---------------------------------------------------------------- others

#[test]
fn common_log_lines() {
    let cases = [
        (
            "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326",
            "2000-10-10T20:55:36Z",
        ),
        (
            "93.184.216.34 - - [24/Nov/2026:05:45:57 +0100] \"GET /index.html HTTP/1.1\" 200 612 \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"",
            "2026-11-24T04:45:57Z",
        ),
        (
            "127.0.0.1 - frank [24/Nov/2026:05:45:57 +0000] \"GET / HTTP/1.1\" 200 2326",
            "2026-11-24T05:45:57Z",
        ),
        // A `[` before the time's own is skipped.
        ("[web01] 10.0.0.1 - - [24/Nov/2026:05:45:57 +0000] \"GET /\"", "2026-11-24T05:45:57Z"),
    ];
    for (line, expected) in cases {
        assert_eq!(
            read_one(TimestampFormat::CommonLog, utc(2026), line),
            Some(ms(expected)),
            "{line}"
        );
    }
    // Past the first 512 bytes: not looked at.
    let far = format!("{} [24/Nov/2026:05:45:57 +0000]", "x".repeat(600));
    assert_eq!(read_one(TimestampFormat::CommonLog, utc(2026), &far), None);
    for line in [
        "127.0.0.1 - - [24/Nov/2026:05:45:57 +0000 \"GET /\"",
        "127.0.0.1 - - [24/Nox/2026:05:45:57 +0000]",
        "127.0.0.1 - - [32/Nov/2026:05:45:57 +0000]",
        "[2026-11-24 05:45:57,123] INFO",
    ] {
        assert_eq!(
            read_one(TimestampFormat::CommonLog, utc(2026), line),
            None,
            "{line}"
        );
    }
}

#[test]
fn epoch_lines() {
    // BGL raw line.
    let bgl = "1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected";
    assert_eq!(
        read_one(TimestampFormat::EpochSeconds, utc(2026), bgl),
        Some(1_117_838_570_000)
    );
    assert_eq!(ms("2005-06-03T22:42:50Z"), 1_117_838_570_000);
    assert_eq!(
        read_one(TimestampFormat::EpochSeconds, utc(2026), "1117838570.123 x"),
        Some(1_117_838_570_123)
    );
    assert_eq!(
        read_one(
            TimestampFormat::EpochSeconds,
            utc(2026),
            "999999999,csv,row"
        ),
        Some(999_999_999_000)
    );
    assert_eq!(
        read_one(
            TimestampFormat::EpochMillis,
            utc(2026),
            "1732426557123 INFO started"
        ),
        Some(1_732_426_557_123)
    );
    assert_eq!(
        read_one(TimestampFormat::EpochMillis, utc(2026), "999999999999 x"),
        Some(999_999_999_999)
    );
    for line in [
        "INFO 1234 something",
        "1234 something",
        "123456789 before 2000",
        "4102444800 year 2100",
        "1117838570x",
        "1117838570.x",
        "1117838570-5",
        "081109 203518 143 INFO dfs.DataNode",
        "1732426557123 milliseconds",
    ] {
        assert_eq!(
            read_one(TimestampFormat::EpochSeconds, utc(2026), line),
            None,
            "{line}"
        );
    }
    for line in [
        "1117838570 seconds",
        "99999999999 eleven digits",
        "12345678901234 fourteen digits",
        "4102444800000 year 2100",
    ] {
        assert_eq!(
            read_one(TimestampFormat::EpochMillis, utc(2026), line),
            None,
            "{line}"
        );
    }
}

#[test]
fn hdfs_lines() {
    let line = "081109 203518 143 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating";
    assert_eq!(
        read_one(TimestampFormat::Hdfs, utc(2026), line),
        Some(ms("2008-11-09T20:35:18Z"))
    );
    for line in [
        "081309 203518 143 INFO bad month",
        "081109 253518 143 INFO bad hour",
        "0811092 03518 x",
        "081109 2035181 x",
        "081109-203518 x",
        "1117838570 2005.06.03",
    ] {
        assert_eq!(
            read_one(TimestampFormat::Hdfs, utc(2026), line),
            None,
            "{line}"
        );
    }
}

// ---------------------------------------------------------------- strftime

fn strftime(layout: &str) -> TimestampFormat {
    TimestampFormat::Strftime(layout.to_owned())
}

#[test]
fn strftime_lines() {
    let format = strftime("%d.%m.%Y %H:%M:%S");
    let line = "24.11.2026 05:45:57 kernel: x";
    assert_eq!(
        read_one(format.clone(), utc(2000), line),
        Some(ms("2026-11-24T05:45:57Z"))
    );
    assert_eq!(
        read_one(format.clone(), berlin(), line),
        Some(ms("2026-11-24T04:45:57Z"))
    );
    assert_eq!(
        read_one(format.clone(), utc(2000), "  24.11.2026 05:45:57"),
        Some(ms("2026-11-24T05:45:57Z"))
    );
    // The match must not run on into a longer number or word.
    assert_eq!(
        read_one(format.clone(), utc(2000), "24.11.2026 05:45:579 x"),
        None
    );
    assert_eq!(
        read_one(format.clone(), utc(2000), "kernel: 24.11.2026 05:45:57"),
        None
    );
    // But punctuation may follow it.
    assert_eq!(
        read_one(format, utc(2000), "24.11.2026 05:45:57,250 x"),
        Some(ms("2026-11-24T05:45:57Z"))
    );

    // A written offset wins over the context's zone.
    assert_eq!(
        read_one(
            strftime("[%d/%b/%Y:%H:%M:%S %z]"),
            berlin(),
            "[24/Nov/2026:05:45:57 +0000] GET /"
        ),
        Some(ms("2026-11-24T05:45:57Z"))
    );
    // An epoch.
    assert_eq!(
        read_one(strftime("%s"), berlin(), "1117838570 x"),
        Some(1_117_838_570_000)
    );
    // Fractions.
    assert_eq!(
        read_one(
            strftime("%Y-%m-%d %H:%M:%S%.f"),
            utc(2000),
            "2026-11-24 05:45:57.125 x"
        ),
        Some(ms("2026-11-24T05:45:57.125Z"))
    );
}

#[test]
fn strftime_without_year_rolls_over() {
    let mut ctime = reader(strftime("%a %b %e %H:%M:%S"), utc(2025));
    // 2025-12-31 is a Wednesday, but a weekday does not have to agree with
    // the guessed year (it is the real year's).
    assert_eq!(
        ctime.read(b"Wed Dec 31 23:59:59 x"),
        Some(ms("2025-12-31T23:59:59Z"))
    );
    assert_eq!(
        ctime.read(b"Thu Jan  1 00:00:00 y"),
        Some(ms("2026-01-01T00:00:00Z"))
    );
}

#[test]
fn strftime_layouts_are_checked() {
    for layout in [
        "hello",
        "",
        "%H:%M:%S",
        "%Y-%m-%d",
        "%Z %Y-%m-%d %H:%M:%S",
        "%c",
        "%Y-%m-%d %H:%M:%",
        "%d %H:%M",
    ] {
        let error = TimestampReader::new(strftime(layout), utc(2026)).expect_err(layout);
        assert!(error.0.contains(&format!("'{layout}'")), "{error}");
    }
    for layout in [
        "%Y-%m-%dT%H:%M:%S%z",
        "%b %d %H:%M:%S",
        "%s",
        "%y%m%d %H%M%S",
        "%Y %j %H:%M",
    ] {
        assert!(
            TimestampReader::new(strftime(layout), utc(2026)).is_ok(),
            "{layout}"
        );
    }
}

// ---------------------------------------------------------------- detect

fn detected(text: &str) -> Option<TimestampFormat> {
    detect(lines(text), &utc(2026)).map(|d| d.format)
}

#[test]
fn detects_each_format() {
    let cases = [
        (
            TimestampFormat::Iso8601,
            "2015-07-29 17:41:44,747 - INFO  [main:QuorumPeerConfig@101] - Reading configuration from: /etc/zookeeper/conf/zoo.cfg\n\
             2015-07-29 17:41:44,757 - INFO  [main:QuorumPeer$QuorumServer@149] - Resolved hostname: 0.0.0.0 to address: /0.0.0.0\n\
             2015-07-29 17:41:44,758 - WARN  [main:QuorumPeerConfig@318] - Non-optimial configuration\n\
             2015-07-29 17:41:44,760 - INFO  [main:QuorumPeerMain@127] - Starting quorum peer",
        ),
        (
            TimestampFormat::Iso8601,
            "2025-06-24 14:36:32 startup archives unpack\n\
             2025-06-24 14:36:33 install libfoo:amd64 <none> 1.2-3\n\
             2025-06-24 14:36:33 status half-installed libfoo:amd64 1.2-3\n\
             2025-06-24 14:36:34 status installed libfoo:amd64 1.2-3",
        ),
        (
            TimestampFormat::Rfc5424,
            "<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - failed\n\
             <34>1 2003-10-11T22:14:16.003Z mymachine su - ID47 - failed\n\
             <165>1 2003-10-11T22:14:17.000003-07:00 192.0.2.1 myproc 8710 - - ok\n\
             <34>1 - mymachine su - ID47 - no time",
        ),
        (
            TimestampFormat::Rfc3164,
            "Nov 24 05:45:57 web01 sshd[1234]: Accepted publickey for root\n\
             Nov 24 05:45:58 web01 sshd[1234]: pam_unix(sshd:session): session opened\n\
             <34>Nov  4 05:45:59 web01 kernel: eth0: link up",
        ),
        (
            TimestampFormat::CommonLog,
            "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326\n\
             127.0.0.1 - - [10/Oct/2000:13:55:37 -0700] \"GET / HTTP/1.0\" 200 612\n\
             10.1.2.3 - - [10/Oct/2000:13:55:38 -0700] \"POST /login HTTP/1.0\" 302 0",
        ),
        (
            TimestampFormat::Hdfs,
            "081109 203518 143 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating\n\
             081109 203518 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: /mnt/hadoop/mapred/system/job_200811092030_0001/job.jar. blk_-1608999687919862906\n\
             081109 203519 143 INFO dfs.DataNode$DataXceiver: Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010",
        ),
        (
            TimestampFormat::EpochSeconds,
            "1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected\n\
             1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected\n\
             1117838573 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.53.276129 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
        ),
        (
            TimestampFormat::EpochMillis,
            "1732426557123 INFO started\n1732426557200 INFO listening\n1732426558001 WARN slow",
        ),
    ];
    for (format, text) in cases {
        let detection = detect(lines(text), &utc(2026)).unwrap_or_else(|| panic!("{format}"));
        assert_eq!(detection.format, format);
        assert_eq!(detection.sampled, text.lines().count());
    }
}

#[test]
fn detect_needs_evidence() {
    // Numbers that are not times.
    assert_eq!(
        detected("INFO 1234 something\nINFO 1235 something else\nWARN 99 x\nINFO 1234 again"),
        None
    );
    assert_eq!(
        detected(
            "The quick brown fox jumps over the lazy dog.\nLorem ipsum dolor sit amet\n\
             42\n[not a time]\n<html>\nNov is a month\n2026 was a year"
        ),
        None
    );
    assert_eq!(detected(""), None);
    assert_eq!(detected("\n   \n\t\n"), None);
    // Two lines are not enough.
    assert_eq!(
        detected("2026-11-24 05:45:57 a\n2026-11-24 05:45:58 b"),
        None
    );
    // Less than half the sample.
    assert_eq!(
        detected("2026-11-24 05:45:57 a\n2026-11-24 05:45:58 b\n2026-11-24 05:45:59 c\nx\ny\nz\nw"),
        None
    );
}

#[test]
fn detect_tolerates_stack_traces_and_blank_lines() {
    let text = "2026-11-24 05:45:57,001 ERROR [main] Boom\n\
                java.lang.IllegalStateException: boom\n\
                \tat com.example.Main.run(Main.java:10)\n\
                \n\
                2026-11-24 05:45:58,001 INFO  [main] retry\n\
                \tat com.example.Main.main(Main.java:3)\n\
                \x20\x20\n\
                2026-11-24 05:45:59,001 INFO  [main] ok";
    let detection = detect(lines(text), &utc(2026)).expect("detected");
    assert_eq!(
        detection,
        Detection {
            format: TimestampFormat::Iso8601,
            matched: 3,
            sampled: 6
        }
    );
}

#[test]
fn detect_breaks_ties_by_priority() {
    // Three ISO and three RFC 3164 lines: ISO 8601 comes first.
    let text = "2026-11-24 05:45:57 a\nNov 24 05:45:57 h a\n2026-11-24 05:45:58 b\n\
                Nov 24 05:45:58 h b\n2026-11-24 05:45:59 c\nNov 24 05:45:59 h c";
    assert_eq!(detected(text), Some(TimestampFormat::Iso8601));
    // Most lines wins over priority.
    let text = "2026-11-24 05:45:57 a\nNov 24 05:45:57 h a\nNov 24 05:45:58 h b\n\
                2026-11-24 05:45:58 b\nNov 24 05:45:59 h c\nNov 24 05:46:00 h d";
    assert_eq!(detected(text), Some(TimestampFormat::Rfc3164));
}

#[test]
fn detect_samples_200_lines() {
    let mut text = String::new();
    for _ in 0..200 {
        text.push_str("no time here\n");
    }
    for _ in 0..1000 {
        text.push_str("2026-11-24 05:45:57 a\n");
    }
    assert_eq!(detected(&text), None);
}

// ---------------------------------------------------------------- stamp_lines

#[test]
fn stamp_lines_fills_forward() {
    let text = "Starting...\n\
                2026-11-24 05:45:57 ERROR boom\n\
                java.lang.RuntimeException: boom\n\
                \tat A.b(A.java:1)\n\
                2026-11-24 05:45:58 INFO ok\n\
                \tcontinued";
    let mut iso = reader(TimestampFormat::Iso8601, utc(2026));
    let stamped = stamp_lines(lines(text), &mut iso);
    let t0 = ms("2026-11-24T05:45:57Z");
    let t1 = ms("2026-11-24T05:45:58Z");
    assert_eq!(
        stamped,
        LineTimes {
            times: vec![None, Some(t0), Some(t0), Some(t0), Some(t1), Some(t1)],
            filled: 3,
            leading_missing: 1,
        }
    );
    let empty = stamp_lines(Vec::<&[u8]>::new(), &mut iso);
    assert_eq!(empty.times, Vec::new());
    assert_eq!((empty.filled, empty.leading_missing), (0, 0));
}

// ---------------------------------------------------------------- parse_instant

#[test]
fn parse_instant_accepts() {
    let berlin_tz = berlin().timezone;
    let cases = [
        ("2026-11-24T05:45:57Z", "2026-11-24T05:45:57Z"),
        ("  2026-11-24T05:45:57Z  ", "2026-11-24T05:45:57Z"),
        ("2026-11-24 05:45:57Z", "2026-11-24T05:45:57Z"),
        ("2026-11-24T05:45:57.123+01:00", "2026-11-24T04:45:57.123Z"),
        ("2026-11-24T05:45:57,5+0100", "2026-11-24T04:45:57.5Z"),
        (
            "2026-11-24T05:45:57+01:00[Europe/Berlin]",
            "2026-11-24T04:45:57Z",
        ),
        ("2026-11-24T05:45[Europe/Berlin]", "2026-11-24T04:45:00Z"),
        // No zone: Berlin.
        ("2026-11-24 05:45:57", "2026-11-24T04:45:57Z"),
        ("2026-11-24T05:45", "2026-11-24T04:45:00Z"),
        ("2026-11-24", "2026-11-23T23:00:00Z"),
        // Epochs.
        ("1732426557", "2024-11-24T05:35:57Z"),
        ("1732426557.5", "2024-11-24T05:35:57.5Z"),
        ("1732426557123", "2024-11-24T05:35:57.123Z"),
        ("0", "1970-01-01T00:00:00Z"),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_instant(text, &berlin_tz), Ok(ms(expected)), "{text}");
    }
}

#[test]
fn parse_instant_rejects() {
    for text in [
        "",
        "yesterday",
        "2026-13-01",
        "2026-11-24T05",
        "2026-11-24 5:45",
        "2026-11-24T05:45:57+01:00[Mars/Olympus]",
        "123456789012345",
        "1.2.3",
        "-5",
        "1732426557123.5",
        "24/Nov/2026:05:45:57 +0000",
    ] {
        let error = parse_instant(text, &TimeZone::UTC).expect_err(text);
        assert!(
            error.0.starts_with(
                "not a timestamp (expected RFC 3339 / ISO 8601 or epoch seconds/milliseconds): '"
            ),
            "{error}"
        );
        assert!(error.0.contains(&format!("'{}'", text.trim())), "{error}");
    }
    let long = "x".repeat(1000);
    let error = parse_instant(&long, &TimeZone::UTC).expect_err("long");
    assert!(error.0.len() < 300, "{error}");
}

// ---------------------------------------------------------------- parse_duration

#[test]
fn parse_duration_accepts() {
    for (text, millis) in [
        ("500ms", 500),
        ("90s", 90_000),
        ("15m", 900_000),
        ("2h", 7_200_000),
        ("1d", 86_400_000),
        ("1h30m", 5_400_000),
        (" 1h 30m ", 5_400_000),
        ("1d2h3m4s5ms", 93_784_005),
        ("0s", 0),
    ] {
        assert_eq!(parse_duration(text), Ok(millis), "{text}");
    }
}

#[test]
fn parse_duration_rejects() {
    let error = parse_duration("90").expect_err("no unit");
    assert!(
        error.0.contains("no unit") && error.0.contains("90s"),
        "{error}"
    );
    let error = parse_duration("-5m").expect_err("negative");
    assert!(error.0.contains("negative"), "{error}");
    let error = parse_duration("99999999999999999999s").expect_err("long");
    assert!(error.0.contains("too long"), "{error}");
    let error = parse_duration("9999999999999999d").expect_err("overflow");
    assert!(error.0.contains("too long"), "{error}");
    for text in [
        "",
        "m",
        "1x",
        "30m1h",
        "1h1h",
        "1.5h",
        "1 h",
        "h1",
        "5 minutes",
        "1s2",
    ] {
        let error = parse_duration(text).expect_err(text);
        assert!(error.0.contains(&format!("'{}'", text.trim())), "{error}");
    }
}

// ---------------------------------------------------------------- parse_timezone

#[test]
fn parse_timezone_accepts() {
    let noon = jiff::civil::date(2026, 11, 24).at(12, 0, 0, 0);
    // Minutes east of UTC at noon, 24 November 2026.
    let offset_minutes = |text: &str| -> i64 {
        let zone = parse_timezone(text).unwrap_or_else(|e| panic!("{e}"));
        let local = zone.to_timestamp(noon).expect("instant");
        (ms("2026-11-24T12:00:00Z") - local.as_millisecond()) / 60_000
    };
    assert_eq!(offset_minutes("UTC"), 0);
    assert_eq!(offset_minutes("utc"), 0);
    assert_eq!(offset_minutes("Z"), 0);
    assert_eq!(offset_minutes("Europe/Berlin"), 60);
    assert_eq!(offset_minutes(" America/New_York "), -300);
    assert_eq!(offset_minutes("+02:00"), 120);
    assert_eq!(offset_minutes("-0530"), -330);
    assert_eq!(offset_minutes("+02"), 120);
}

#[test]
fn parse_timezone_rejects() {
    for text in [
        "Mars/Olympus",
        "",
        "+2",
        "+02:60",
        "+0a00",
        "+99:00",
        "abc",
        "+02:00:00",
    ] {
        let error = parse_timezone(text).expect_err(text);
        assert!(error.0.contains(&format!("'{text}'")), "{error}");
    }
}

// ---------------------------------------------------------------- names

#[test]
fn format_names() {
    assert_eq!(TimestampFormat::Iso8601.to_string(), "ISO 8601");
    assert_eq!(TimestampFormat::Rfc3164.to_string(), "syslog RFC 3164");
    assert_eq!(strftime("%d.%m.%Y").to_string(), "strftime '%d.%m.%Y'");
    for format in TimestampFormat::BUILT_IN {
        // Each built-in format has a command-line name that reads back.
        let name = match format {
            TimestampFormat::Iso8601 => "iso8601",
            TimestampFormat::Rfc5424 => "rfc5424",
            TimestampFormat::Rfc3164 => "RFC3164",
            TimestampFormat::CommonLog => "common-log",
            TimestampFormat::EpochSeconds => "epoch-s",
            TimestampFormat::EpochMillis => "epoch-ms",
            TimestampFormat::Hdfs => "hdfs",
            TimestampFormat::Strftime(_) => unreachable!(),
        };
        assert_eq!(name.parse::<TimestampFormat>(), Ok(format));
    }
    assert_eq!("%Y %H".parse::<TimestampFormat>(), Ok(strftime("%Y %H")));
    assert!("iso9000".parse::<TimestampFormat>().is_err());
}

// ---------------------------------------------------------------- robustness

/// Every reader, one of each format (and a few strftime layouts).
fn every_reader() -> Vec<TimestampReader> {
    let mut formats = TimestampFormat::BUILT_IN.to_vec();
    formats.extend(
        [
            "%d.%m.%Y %H:%M:%S",
            "%b %e %H:%M:%S",
            "%s",
            "[%d/%b/%Y:%H:%M:%S %z]",
            "%Y-%m-%dT%H:%M:%S%.f%:z %Q",
        ]
        .map(strftime),
    );
    formats
        .into_iter()
        .map(|format| reader(format, berlin()))
        .collect()
}

/// Lines no reader should panic on: invalid UTF-8, truncations, huge
/// numbers, 64 KiB lines, pseudo-random mixes of timestamp fragments.
fn odd_lines() -> Vec<Vec<u8>> {
    let long_digits = "9".repeat(70_000);
    let long_bracket = format!("{}[24/Nov/2026:05:45:57 +0000]", "[".repeat(600));
    let mut odd: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\xff\xfe\xfd invalid utf-8".to_vec(),
        b"2026-11-24 05:45:5\xff".to_vec(),
        b"Nov 24 05:45:57\xc3".to_vec(),
        b"<999999999999>".to_vec(),
        b"<999999999999>1 2026-11-24T05:45:57Z".to_vec(),
        b"<".to_vec(),
        b"[".to_vec(),
        b"[99/Xyz".to_vec(),
        b"[24/Nov/2026:05:45:57 +".to_vec(),
        b"2026-11-24T05:45:57+".to_vec(),
        b"2026-11-24T05:45:57.".to_vec(),
        b"2026-11-24T05:45:57 +99:99".to_vec(),
        b"9999-12-31T23:59:59-25:59".to_vec(),
        b"0000-01-01T00:00:00+25:59".to_vec(),
        b"Dec 31 23:59:59 x".to_vec(),
        b"99999999999999999999999999999999".to_vec(),
        b"1117838570.".to_vec(),
        b"1117838570.99999999999999999999999".to_vec(),
        b"081109 2035".to_vec(),
        "2026-11-24 05:45:57 ünïcödé ✓".as_bytes().to_vec(),
        "ñ".repeat(40).into_bytes(),
        long_digits.clone().into_bytes(),
        format!("{long_digits} x").into_bytes(),
        "x".repeat(64 * 1024).into_bytes(),
        long_bracket.into_bytes(),
        format!("{}2026-11-24 05:45:57", " ".repeat(63)).into_bytes(),
        vec![b' '; 64 * 1024],
        (0..=255u8).collect(),
        (0..=255u8).rev().collect(),
    ];
    // Every prefix of some well-formed lines: cut at each byte.
    for line in [
        "<34>1 2003-10-11T22:14:15.003Z mymachine su",
        "127.0.0.1 - - [24/Nov/2026:05:45:57 +0100] \"GET /\"",
        "[2026-11-24 05:45:57,123] INFO",
        "<13>Nov  4 05:45:57.5 h x",
        "24.11.2026 05:45:57 kernel: x",
        "2026-11-24T05:45:57+01:00 Europe/Berlin x",
    ] {
        for end in 0..=line.len() {
            odd.push(line.as_bytes()[..end].to_vec());
        }
    }
    // Pseudo-random mixes of timestamp-ish fragments.
    let fragments: [&[u8]; 16] = [
        b"2026",
        b"-",
        b"11",
        b":",
        b" ",
        b"[",
        b"]",
        b"<34>",
        b"Nov",
        b"+01:00",
        b".",
        b",",
        b"T",
        b"Z",
        b"\xff",
        b"1117838570",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..2000 {
        let mut line = Vec::new();
        for _ in 0..(state % 12) {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            line.extend_from_slice(fragments[(state >> 33) as usize % fragments.len()]);
        }
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        odd.push(line);
    }
    odd
}

#[test]
fn odd_bytes_never_panic() {
    let odd = odd_lines();
    for mut reader in every_reader() {
        for line in &odd {
            let _ = reader.read(line);
        }
    }
    let refs: Vec<&[u8]> = odd.iter().map(Vec::as_slice).collect();
    let _ = detect(refs.iter().copied(), &berlin());
    let _ = detect(refs.iter().copied(), &utc(i16::MAX));
    let mut iso = reader(TimestampFormat::Iso8601, utc(2026));
    let _ = stamp_lines(refs.iter().copied(), &mut iso);
    for text in [
        "\u{0}",
        "٣٣",
        "2026-11-24T05:45:57.999999999999999999Z",
        "1.",
        ".5",
        "ñ",
    ] {
        let _ = parse_instant(text, &TimeZone::UTC);
        let _ = parse_duration(text);
        let _ = parse_timezone(text);
    }
}

#[test]
fn years_past_jiffs_range_are_no_time() {
    let mut syslog = reader(TimestampFormat::Rfc3164, utc(9999));
    // jiff's last instant is 9999-12-30T22:00:00Z.
    assert_eq!(
        syslog.read(b"Dec 30 12:00:00 x"),
        Some(ms("9999-12-30T12:00:00Z"))
    );
    // The year after 9999 is out of range: no time, no panic.
    assert_eq!(syslog.read(b"Jan  1 00:00:00 x"), None);
    assert_eq!(
        read_one(TimestampFormat::Rfc3164, utc(i16::MAX), "Jan  1 00:00:00 x"),
        None
    );
}
