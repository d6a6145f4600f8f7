# frozen_string_literal: true

# vagrant/docker_listing.rb against a stand-in for Vagrant's docker driver:
# a Driver class whose `execute` answers from an in-memory Docker (containers
# and whether they run), counts each call, and takes a while to answer, as
# the real docker client does, so that threads overlap. Run by
# tests/docker_listing.rs, one test per process
# (`ruby tests/ruby/docker_listing_test.rb -n test_NAME`), with
# LABCTL_DOCKER_LISTING naming the file under test and LABCTL_ENV_SECONDS the
# reader of its setting (vagrant/env_seconds.rb).

require 'json'
require 'minitest/autorun'

# The in-memory Docker: `ps`, `inspect`, `run`, `rm`, `stop`; each call is
# counted by its argument list and takes `delay` seconds. A read answers with
# the state when it started; a change takes effect when its call ends.
class FakeDocker
  attr_accessor :delay

  def initialize(delay)
    @delay = delay
    @lock = Mutex.new
    @containers = {} # id => running?
    @calls = Hash.new(0)
  end

  def calls(*cmd)
    @lock.synchronize { @calls[cmd] }
  end

  def execute(cmd)
    @lock.synchronize { @calls[cmd] += 1 }
    read = read(cmd)
    sleep @delay
    return read if read

    @lock.synchronize do
      case cmd[1]
      when 'run'
        @containers[cmd.last] = true
        "#{cmd.last}\n"
      when 'stop'
        @containers[cmd.last] = false
        ''
      when 'rm'
        @containers.delete(cmd.last)
        ''
      else
        raise "the stand-in does not know #{cmd.inspect}"
      end
    end
  end

  # A read's answer: the state when the call starts.
  def read(cmd)
    @lock.synchronize do
      case cmd[1]
      when 'ps'
        ids = cmd.include?('-a') ? @containers.keys : @containers.select { |_, r| r }.keys
        ids.map { |id| "#{id}\n" }.join
      when 'inspect'
        id = cmd.last
        raise "No such object: #{id}" unless @containers.key?(id)
        JSON.generate([{ 'Id' => id, 'State' => { 'Running' => @containers[id] } }])
      end
    end
  end
end

module VagrantPlugins
  module DockerProvider
    # Stand-in for Vagrant's Driver: one instance per machine, like Vagrant's.
    class Driver
      class << self
        attr_accessor :docker
      end

      def execute(*cmd, **opts, &block)
        out = self.class.docker.execute(cmd)
        out = "#{out} " if opts[:with_stderr]
        block&.call(:stdout, out)
        out
      end
    end
  end
end

# As the Vagrantfile does: the settings' reader first.
require File.expand_path(ENV.fetch('LABCTL_ENV_SECONDS'))
require File.expand_path(ENV.fetch('LABCTL_DOCKER_LISTING'))

class DockerListingTest < Minitest::Test
  PS_A = %w[docker ps -a -q --no-trunc].freeze
  PS = %w[docker ps -q --no-trunc].freeze

  def setup
    ENV.delete('LABCTL_LISTING_TTL')
    # Each test starts from an empty cache (tests may share a process).
    LabctlDockerListing.send(:remove_const, :CACHE)
    LabctlDockerListing.const_set(:CACHE, LabctlDockerListing::Cache.new)
    @docker = FakeDocker.new(0.3)
    VagrantPlugins::DockerProvider::Driver.docker = @docker
    @docker.delay = 0
    driver.execute('docker', 'run', '--name', 'c1')
    driver.execute('docker', 'run', '--name', 'c2')
    @docker.delay = 0.3
  end

  def driver
    VagrantPlugins::DockerProvider::Driver.new
  end

  # Ten machines (threads, each with its own driver) asking at once: one
  # docker call per listing, the same answer for all.
  def test_ten_threads_share_one_listing
    [PS_A, PS].each do |cmd|
      outs = Array.new(10) { Thread.new { driver.execute(*cmd) } }.map(&:value)
      assert_equal 1, @docker.calls(*cmd), cmd.join(' ')
      assert_equal ["c1\nc2\n"], outs.uniq
    end
  end

  # A change by this process is never hidden by a listing from before it:
  # not sequentially, and not by a listing that was in flight during it.
  def test_change_forces_relist
    d = driver
    assert_equal "c1\nc2\n", d.execute(*PS_A)
    d.execute('docker', 'rm', '-f', '-v', 'c1')
    assert_equal "c2\n", d.execute(*PS_A)
    assert_equal 2, @docker.calls(*PS_A)

    # A listing started while `docker run` is under way, asked for again after
    # it returned, is fetched anew.
    during = Thread.new do
      sleep 0.1
      driver.execute(*PS_A)
    end
    d.execute('docker', 'run', '--name', 'c3')
    assert_equal "c2\n", during.value, 'the stand-in answers with the old list mid-change'
    assert_equal "c2\nc3\n", d.execute(*PS_A)
    assert_equal 4, @docker.calls(*PS_A)

    # A stop changes the running list.
    assert_equal "c2\nc3\n", d.execute(*PS)
    d.execute('docker', 'stop', '-t', '15', 'c2')
    assert_equal "c3\n", d.execute(*PS)
  end

  # `docker inspect ID` is shared like the listings, per ID, and fetched anew
  # after a change.
  def test_inspect_shared
    outs = Array.new(10) { Thread.new { driver.execute('docker', 'inspect', 'c1') } }.map(&:value)
    assert_equal 1, @docker.calls('docker', 'inspect', 'c1')
    assert_equal 1, outs.uniq.size
    assert_equal true, JSON.parse(outs.first).first['State']['Running']
    driver.execute('docker', 'inspect', 'c2')
    assert_equal 1, @docker.calls('docker', 'inspect', 'c2')
    driver.execute('docker', 'stop', '-t', '15', 'c1')
    assert_equal false, JSON.parse(driver.execute('docker', 'inspect', 'c1')).first['State']['Running']
    assert_equal 2, @docker.calls('docker', 'inspect', 'c1')
  end

  # An answer is reused for LABCTL_LISTING_TTL seconds only; 0 turns the
  # cache off.
  def test_ttl_expiry
    @docker.delay = 0
    ENV['LABCTL_LISTING_TTL'] = '0.5'
    d = driver
    2.times { d.execute(*PS_A) }
    assert_equal 1, @docker.calls(*PS_A)
    sleep 0.6
    d.execute(*PS_A)
    assert_equal 2, @docker.calls(*PS_A)

    ENV['LABCTL_LISTING_TTL'] = '0'
    3.times { d.execute(*PS) }
    assert_equal 3, @docker.calls(*PS)
  end

  # Only the plain forms are cached: with options, a block, or other
  # arguments every call reaches Docker.
  def test_options_not_cached
    @docker.delay = 0
    d = driver
    2.times { assert_equal "c1\nc2\n ", d.execute(*PS_A, with_stderr: true) }
    assert_equal 2, @docker.calls(*PS_A)
    seen = []
    2.times { d.execute(*PS) { |_, data| seen << data } }
    assert_equal ["c1\nc2\n"] * 2, seen
    assert_equal 2, @docker.calls(*PS)
    2.times { d.execute('docker', 'ps', '-a', '-q') }
    assert_equal 2, @docker.calls('docker', 'ps', '-a', '-q')
    2.times { d.execute('docker', 'inspect', '--type', 'container', 'c1') }
    assert_equal 2, @docker.calls('docker', 'inspect', '--type', 'container', 'c1')
  end
end
