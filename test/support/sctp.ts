// SCTP with real packets where the kernel has no SCTP sockets: a raw IP
// socket (protocol 132) sends an SCTP INIT, and a raw socket on the receiving
// side counts the ones delivered. Raw sockets receive a packet only after the
// input hook accepted it, so the count is the firewall's verdict. Perl, whose
// Socket module has raw sockets, does the sending and receiving.
import { run } from '../../src/host/exec.js';

/** Sends COUNT SCTP INIT chunks to DST:PORT, 50 ms apart (checksum: CRC32c, as RFC 9260 asks). */
const SEND = String.raw`
use strict; use Socket; use Time::HiRes qw(usleep);
my ($dst, $port, $count) = @ARGV;
socket(my $s, PF_INET, SOCK_RAW, 132) or die "raw socket: $!";
my @t = map { my $c = $_; $c = ($c & 1) ? (($c >> 1) ^ 0x82F63B78) : ($c >> 1) for 1 .. 8; $c } 0 .. 255;
sub crc32c { my $c = 0xFFFFFFFF; $c = $t[($c ^ $_) & 0xFF] ^ ($c >> 8) for unpack 'C*', $_[0]; $c ^ 0xFFFFFFFF }
for my $i (1 .. $count) {
  my $init = pack 'CCnNNnnN', 1, 0, 20, 0x5eed0000 + $i, 65535, 1, 1, $i;
  my $pkt = pack('nnNN', 40000 + $i, $port, 0, 0) . $init;
  substr($pkt, 8, 4) = pack 'V', crc32c($pkt);
  send($s, $pkt, 0, pack_sockaddr_in(0, inet_aton($dst))) or die "send: $!";
  usleep(50_000);
}
`;

/** Prints `ready`, then after MS milliseconds the number of SCTP packets from SRC to PORT it received. */
const COUNT = String.raw`
use strict; use Socket; use IO::Select; use Time::HiRes qw(time);
$| = 1;
my ($src, $port, $ms) = @ARGV;
socket(my $s, PF_INET, SOCK_RAW, 132) or die "raw socket: $!";
my $sel = IO::Select->new($s); my $end = time + $ms / 1000; my $n = 0;
print "ready\n";
while ((my $left = $end - time) > 0) {
  next unless $sel->can_read($left);
  defined recv($s, my $buf, 65535, 0) or next;
  my $ihl = (ord($buf) & 15) * 4;
  my (undef, $dport) = unpack 'nn', substr($buf, $ihl, 4);
  $n++ if inet_ntoa(substr($buf, 12, 4)) eq $src && $dport == $port;
}
print "$n\n";
`;

/** How many of `count` SCTP INITs from the pod in `fromNetns` reached `dst:port` in `toNetns`. */
export async function sctpDelivered(
  o: { fromNetns: string; src: string; toNetns: string; dst: string; port: number },
  count = 3,
): Promise<number> {
  const counter = run('ip', [
    'netns',
    'exec',
    o.toNetns,
    'perl',
    '-e',
    COUNT,
    o.src,
    String(o.port),
    '1500',
  ]);
  // The counter's socket exists within milliseconds; give it a margin before sending.
  await new Promise((r) => setTimeout(r, 300));
  await run('ip', [
    'netns',
    'exec',
    o.fromNetns,
    'perl',
    '-e',
    SEND,
    o.dst,
    String(o.port),
    String(count),
  ]);
  const out = (await counter).trim().split('\n');
  if (out[0] !== 'ready') throw new Error(`SCTP counter: unexpected output ${out.join(' | ')}`);
  return Number(out[1]);
}
