import { expect } from 'chai';
import { createFfmpegLog } from '../../src/video/ffmpeg-log.js';

// Lines as the bundled ffmpeg (N-47683) prints them with `-loglevel level+info`.
const RUN = [
  "[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/clips/a.mp4':",
  '[info]   Duration: 00:00:01.00, start: 0.000000, bitrate: 19 kb/s',
  '[Parsed_showinfo_3 @ 0x22761c40] [info] config in time_base: 1/30000, frame_rate: 30000/1001',
  '[Parsed_showinfo_3 @ 0x22761c40] [info] config out time_base: 0/0, frame_rate: 0/0',
  '[Parsed_showinfo_3 @ 0x22761c40] [info] n:   0 pts:      0 pts_time:0       pos:       48 fmt:rgb24 sar:1/1 s:224x224 i:P iskey:1 ' +
    'type:I checksum:9C45FA4C plane_checksum:[9C45FA4C] mean:[59 ] stdev:[60.1 ]',
  '[Parsed_showinfo_3 @ 0x22761c40] [info] color_range:unknown color_space:unknown color_primaries:unknown color_trc:unknown',
  '[Parsed_showinfo_3 @ 0x22761c40] [info] n:   1 pts:   4004 pts_time:0.133467 pos:    12345 fmt:rgb24 sar:1/1 s:224x224 i:P iskey:0 ' +
    'type:P checksum:1 plane_checksum:[1] mean:[59 ] stdev:[60.1 ]',
  '[h264 @ 0x1] [error] error while decoding MB 10 5, bytestream -7',
  '[Parsed_showinfo_3 @ 0x22761c40] [info] n:   2 pts:NOPTS pts_time:NOPTS pos: -1 fmt:rgb24',
  '[mov,mp4,m4a,3gp,3g2,mj2 @ 0x3215acc0] [error] stream 0, offset 0x1582b: partial file',
  '[error] file:/clips/a.mp4: Invalid data found when processing input',
].join('\n');

describe('video/ffmpeg-log', () => {
  it('turns showinfo lines into exact ms from pts and time base, whatever the chunking', () => {
    for (const size of [1, 5, 64, RUN.length + 1]) {
      const log = createFfmpegLog('file:/clips/a.mp4');
      const stamps: Array<number | null> = [];
      for (let i = 0; i < RUN.length; i += size) stamps.push(...log.push(RUN.slice(i, i + size)));
      stamps.push(...log.end());
      expect(stamps, `chunks of ${size}`).to.deep.equal([0, (4004 * 1000) / 30000, null]);
      expect(log.frames).to.equal(3);
    }
  });

  it('falls back to pts_time when no time base was announced', () => {
    const log = createFfmpegLog('x');
    expect(log.push('[Parsed_showinfo_1 @ 0x1] [info] n:   7 pts:  9 pts_time:1.5 pos: 1\n')).to.deep.equal([1500]);
  });

  it("hands a further output's showinfo lines (named or bare instance) to onExtraStamp, with that output's time base", () => {
    const extra: Array<[number, number | null]> = [];
    const log = createFfmpegLog('x', (k, t) => extra.push([k, t]));
    const main = log.push(
      [
        '[Parsed_showinfo_3 @ 0x1] [info] config in time_base: 1/1000, frame_rate: 25/1',
        '[showinfo@vigil_out1 @ 0x2] [info] config in time_base: 1/12800, frame_rate: 25/1',
        '[Parsed_showinfo_3 @ 0x1] [info] n:   0 pts:   40 pts_time:0.04 pos: 1',
        '[showinfo@vigil_out1 @ 0x2] [info] n:   0 pts:  512 pts_time:0.04 pos: 1',
        '[vigil_out2 @ 0x3] [info] n:   0 pts:NOPTS pts_time:NOPTS pos: 1',
        '',
      ].join('\n'),
    );
    expect(main).to.deep.equal([40]);
    expect(extra).to.deep.equal([
      [1, 40],
      [2, null],
    ]);
    expect(log.frames).to.equal(1);
  });

  it('keeps the last error without prefixes and input name, and counts errors', () => {
    const log = createFfmpegLog('file:/clips/a.mp4');
    log.push(RUN + '\n');
    expect(log.lastError).to.equal('Invalid data found when processing input');
    expect(log.errors).to.equal(3);
    expect(log.inputOpened).to.equal(true);
    expect(log.noVideo).to.equal(false);
    expect(log.tail()).to.not.include.members([RUN.split('\n')[4]]);
  });

  it('notices an input that never opened, and a map that matched no video', () => {
    const log = createFfmpegLog('http://127.0.0.1:1/x.mp4');
    log.push('[tcp @ 0x2] [error] Connection to tcp://127.0.0.1:1 failed: Connection refused\n');
    log.push('[error] http://127.0.0.1:1/x.mp4: Connection refused\n');
    expect(log.inputOpened).to.equal(false);
    expect(log.lastError).to.equal('Connection refused');

    const audio = createFfmpegLog('x');
    audio.push("[fatal] Stream map '0:v:0' matches no streams.\n");
    expect(audio.noVideo).to.equal(true);
  });

  it('keeps a bounded tail of the other lines', () => {
    const log = createFfmpegLog('x');
    for (let i = 0; i < 100; i++) log.push(`[warning] line ${i}\n`);
    expect(log.tail()).to.have.length(20);
    expect(log.tail()[19]).to.equal('[warning] line 99');
  });
});
