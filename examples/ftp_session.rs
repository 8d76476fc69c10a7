//! An FTP session (Qt's QFtp): log in, say where we are, list a directory with typed
//! entries, fetch one file into `FILE.part` and rename it when complete, log out.
//!
//! ```text
//! cargo run --example ftp_session -- ftp://USER:PASSWORD@HOST[:PORT]/DIR/ [FILE]
//! ```

use std::error::Error;

use boardnet::ftp::{self, url, EntryKind, Security, Session, SessionOptions};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let target = url::parse(
        args.first()
            .ok_or("usage: ftp_session ftp://USER:PASSWORD@HOST/DIR/ [FILE]")?,
    )?;
    let options = SessionOptions {
        security: if target.implicit_tls {
            Security::Implicit
        } else {
            Security::None
        },
        ..SessionOptions::default()
    };
    let mut session = Session::connect(
        &target.host,
        target.port,
        target.user.as_deref(),
        target.password.as_deref(),
        &options,
    )?;
    println!("logged in; working directory {}", session.pwd()?);
    let dir = (!target.path.is_empty()).then_some(target.path.as_str());
    session.list(dir, &mut |entry, raw| match entry {
        Some(e) => println!(
            "{:9} {:>10} {}",
            match e.kind {
                EntryKind::Directory => "directory",
                EntryKind::Link => "link",
                EntryKind::File => "file",
                EntryKind::Other => "other",
            },
            e.size.map(|s| s.to_string()).unwrap_or_default(),
            e.name
        ),
        None => println!("(unparsed) {raw}"),
    })?;
    if let Some(file) = args.get(1) {
        let remote = format!("{}{file}", target.path);
        let mut buf = vec![0u8; 256 * 1024];
        let done = ftp::download(
            &mut session,
            &remote,
            file.as_ref(),
            &mut buf,
            ftp::DownloadOptions::default(),
        )?;
        println!(
            "fetched {remote}: {} bytes to {}",
            done.size,
            done.path.display()
        );
    }
    session.quit()?;
    Ok(())
}
