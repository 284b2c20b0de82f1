//! Renders one document N times, for profilers (`perf stat`, `perf record`, callgrind):
//! `cargo run --release -p zatca-pdf --example profile_render -- 200 tests/fixtures/invoices/standard-invoice/expected/signed.xml`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().unwrap_or_else(|| "100".into()).parse()?;
    let path = args
        .next()
        .unwrap_or_else(|| "tests/fixtures/invoices/standard-invoice/expected/signed.xml".into());
    let xml = std::fs::read(&path)?;
    let options = zatca_pdf::Options::default();
    let start = std::time::Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        bytes = zatca_pdf::render(std::hint::black_box(&xml), &options)?.len();
    }
    let per = start.elapsed() / u32::try_from(n.max(1))?;
    println!("{n} renders of {path}: {per:?} each (wall clock), {bytes} bytes");
    Ok(())
}
